/// The seven kinds of external connection Moeen Hub manages, with the raw values the
/// original system stored in `integration_configs.integration_type`.
public enum IntegrationType: String, CaseIterable, Codable, Sendable {
    case whatsapp
    case sms
    case email
    case googleCalendar = "google_calendar"
    case slack
    case seha
    case tatman

    /// The name of the row the first migration seeds for this type, exactly as the original.
    public var defaultName: String {
        switch self {
        case .whatsapp: "WhatsApp Business API"
        case .sms: "Twilio SMS Gateway"
        case .email: "SendGrid Email Service"
        case .googleCalendar: "Google Calendar Integration"
        case .slack: "Slack Notifications"
        case .seha: "Seha Platform Integration"
        case .tatman: "Tatman Insurance"
        }
    }

    /// Arabic label shown in the admin pages (right-to-left by default).
    public var labelAR: String {
        switch self {
        case .whatsapp: "واتساب للأعمال"
        case .sms: "الرسائل النصية (Twilio)"
        case .email: "البريد الإلكتروني (SendGrid)"
        case .googleCalendar: "تقويم Google"
        case .slack: "إشعارات Slack"
        case .seha: "منصة صحة"
        case .tatman: "تأمين Tatman"
        }
    }

    /// English label shown in the admin pages with `?lang=en`.
    public var labelEN: String {
        switch self {
        case .whatsapp: "WhatsApp Business"
        case .sms: "SMS (Twilio)"
        case .email: "Email (SendGrid)"
        case .googleCalendar: "Google Calendar"
        case .slack: "Slack notifications"
        case .seha: "Seha platform"
        case .tatman: "Tatman insurance"
        }
    }
}
