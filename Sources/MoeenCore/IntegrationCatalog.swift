import Foundation

/// The integration catalogue: every type's settings, as in the original system plus the
/// fields this project adds (`app_secret`, base-URL overrides, `webhook_public_key`,
/// `signing_secret`, `messaging_service_sid`). See PROVIDERS.md.
public enum IntegrationCatalog {
    /// Every type with its fields, in the catalogue's order (`GET /api/integration-types`).
    public static var all: [IntegrationTypeDescriptor] {
        IntegrationType.allCases.map(IntegrationTypeDescriptor.init(type:))
    }

    /// The fields of one type, in form order.
    public static func fields(for type: IntegrationType) -> [FieldSpec] {
        providerFields(for: type) + rateLimitFields(for: type)
    }

    /// The provider's own settings of a type, in form order.
    static func providerFields(for type: IntegrationType) -> [FieldSpec] {
        switch type {
        case .whatsapp:
            [
                FieldSpec(name: "api_url", labelAR: "عنوان الواجهة البرمجية", labelEN: "API URL",
                          required: true, defaultValue: "https://graph.facebook.com/v17.0", kind: .url),
                FieldSpec(name: "access_token", labelAR: "رمز الوصول", labelEN: "Access token",
                          secret: true, required: true, kind: .secret),
                FieldSpec(name: "phone_number_id", labelAR: "معرّف رقم الهاتف", labelEN: "Phone number ID",
                          required: true, kind: .text),
                FieldSpec(name: "webhook_verify_token", labelAR: "رمز التحقق من الويب هوك",
                          labelEN: "Webhook verify token", secret: true, kind: .secret),
                FieldSpec(name: "app_secret", labelAR: "سر التطبيق", labelEN: "App secret",
                          secret: true, kind: .secret),
            ]
        case .sms:
            [
                FieldSpec(name: "account_sid", labelAR: "معرّف الحساب (SID)", labelEN: "Account SID",
                          required: true, kind: .text),
                FieldSpec(name: "auth_token", labelAR: "رمز المصادقة", labelEN: "Auth token",
                          secret: true, required: true, kind: .secret),
                FieldSpec(name: "from_number", labelAR: "رقم المرسل", labelEN: "From number",
                          kind: .phone),
                FieldSpec(name: "messaging_service_sid", labelAR: "معرّف خدمة المراسلة",
                          labelEN: "Messaging service SID", kind: .text),
                FieldSpec(name: "api_url", labelAR: "عنوان الواجهة البرمجية", labelEN: "API URL",
                          defaultValue: "https://api.twilio.com", kind: .url),
            ]
        case .email:
            [
                FieldSpec(name: "api_key", labelAR: "مفتاح الواجهة البرمجية", labelEN: "API key",
                          secret: true, required: true, kind: .secret),
                FieldSpec(name: "from_email", labelAR: "البريد المرسل", labelEN: "From e-mail",
                          required: true, kind: .email),
                FieldSpec(name: "from_name", labelAR: "اسم المرسل", labelEN: "From name", kind: .text),
                FieldSpec(name: "api_url", labelAR: "عنوان الواجهة البرمجية", labelEN: "API URL",
                          defaultValue: "https://api.sendgrid.com", kind: .url),
                FieldSpec(name: "webhook_public_key", labelAR: "المفتاح العام لأحداث الويب هوك",
                          labelEN: "Event webhook public key", kind: .text),
            ]
        case .googleCalendar:
            [
                FieldSpec(name: "client_id", labelAR: "معرّف العميل", labelEN: "Client ID",
                          required: true, kind: .text),
                FieldSpec(name: "client_secret", labelAR: "سر العميل", labelEN: "Client secret",
                          secret: true, required: true, kind: .secret),
                FieldSpec(name: "refresh_token", labelAR: "رمز التحديث", labelEN: "Refresh token",
                          secret: true, required: true, kind: .secret),
                FieldSpec(name: "calendar_id", labelAR: "معرّف التقويم", labelEN: "Calendar ID",
                          required: true, defaultValue: "primary", kind: .text),
                FieldSpec(name: "token_url", labelAR: "عنوان إصدار الرموز", labelEN: "Token URL",
                          defaultValue: "https://oauth2.googleapis.com/token", kind: .url),
                FieldSpec(name: "api_url", labelAR: "عنوان الواجهة البرمجية", labelEN: "API URL",
                          defaultValue: "https://www.googleapis.com/calendar/v3", kind: .url),
                FieldSpec(name: "webhook_channel_token", labelAR: "رمز قناة الإشعارات (الويب هوك)",
                          labelEN: "Push channel token (webhook)", secret: true, kind: .secret),
            ]
        case .slack:
            [
                FieldSpec(name: "webhook_url", labelAR: "رابط الويب هوك", labelEN: "Webhook URL",
                          secret: true, required: true, kind: .url),
                FieldSpec(name: "channel", labelAR: "القناة", labelEN: "Channel",
                          defaultValue: "#notifications", kind: .text),
                FieldSpec(name: "signing_secret", labelAR: "سر التوقيع", labelEN: "Signing secret",
                          secret: true, kind: .secret),
            ]
        case .seha:
            [
                FieldSpec(name: "api_url", labelAR: "عنوان الواجهة البرمجية", labelEN: "API URL",
                          required: true, defaultValue: "https://api.seha.sa", kind: .url),
                FieldSpec(name: "api_key", labelAR: "مفتاح الواجهة البرمجية", labelEN: "API key",
                          secret: true, required: true, kind: .secret),
                FieldSpec(name: "facility_id", labelAR: "معرّف المنشأة", labelEN: "Facility ID",
                          required: true, kind: .text),
                FieldSpec(name: "webhook_secret", labelAR: "سر توقيع الويب هوك", labelEN: "Webhook signing secret",
                          secret: true, kind: .secret),
            ]
        case .tatman:
            [
                FieldSpec(name: "api_url", labelAR: "عنوان الواجهة البرمجية", labelEN: "API URL",
                          required: true, defaultValue: "https://api.tatman.com.sa", kind: .url),
                FieldSpec(name: "api_key", labelAR: "مفتاح الواجهة البرمجية", labelEN: "API key",
                          secret: true, required: true, kind: .secret),
                FieldSpec(name: "provider_id", labelAR: "معرّف مقدّم الخدمة", labelEN: "Provider ID",
                          required: true, kind: .text),
                FieldSpec(name: "webhook_secret", labelAR: "سر توقيع الويب هوك", labelEN: "Webhook signing secret",
                          secret: true, kind: .secret),
            ]
        }
    }

    /// The sending ceiling each messaging type defaults to (PROVIDERS.md "Sending ceilings"); `nil` for the
    /// types that send no messages.
    public static func defaultRateLimit(for type: IntegrationType) -> RateLimit? {
        switch type {
        case .whatsapp: .limited(rate: 80, burst: 20)
        case .sms: .limited(rate: 10, burst: 5)
        case .email: .limited(rate: 100, burst: 50)
        case .slack: .limited(rate: 1, burst: 1)
        case .googleCalendar, .seha, .tatman: nil
        }
    }

    /// The rate-limit fields of a messaging type, with its defaults.
    static func rateLimitFields(for type: IntegrationType) -> [FieldSpec] {
        guard case .limited(let rate, let burst)? = defaultRateLimit(for: type) else { return [] }
        let rateText = rate == rate.rounded() ? String(Int(rate)) : String(rate)
        return [
            FieldSpec(name: "rate_limit_per_second", labelAR: "حد الإرسال (رسالة في الثانية، أو unlimited)",
                      labelEN: "Send limit (messages per second, or unlimited)", defaultValue: rateText, kind: .text),
            FieldSpec(name: "rate_limit_burst", labelAR: "أقصى دفعة متتالية", labelEN: "Burst (messages at once)",
                      defaultValue: String(burst), kind: .text),
        ]
    }

    /// The integration's sending ceiling from its settings (defaults for absent fields).
    public static func rateLimit(type: IntegrationType, config: [String: String]) -> RateLimit {
        guard let defaults = defaultRateLimit(for: type) else { return .unlimited }
        switch RateLimit.parse(perSecond: config["rate_limit_per_second"], burst: config["rate_limit_burst"], defaults: defaults) {
        case .success(let limit): return limit
        case .failure: return defaults
        }
    }

    /// The names of the secret fields of a type (stored encrypted, never returned).
    public static func secretFieldNames(for type: IntegrationType) -> Set<String> {
        Set(fields(for: type).filter(\.secret).map(\.name))
    }

    /// The settings with surrounding whitespace trimmed, empty values dropped and
    /// defaults filled in for absent fields. Unknown fields are kept (validation reports them).
    public static func resolved(type: IntegrationType, config: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in config {
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { result[key] = trimmed }
        }
        for field in fields(for: type) where result[field.name] == nil {
            if let value = field.defaultValue { result[field.name] = value }
        }
        return result
    }
}
