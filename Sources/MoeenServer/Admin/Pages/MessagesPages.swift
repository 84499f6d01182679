import Foundation

/// `/settings/messages`: the outbox, newest first, filtered by status and channel, a page at a time.
struct MessagesPage: Encodable {
    struct Row: Encodable {
        let publicID: String
        let href: String
        let status: String
        let badge: StatusBadge
        let channel: String
        let channelLabel: String
        /// Masked for viewers.
        let recipient: String
        let attempts: String
        let nextAttempt: TimeDisplay?
        /// Masked for viewers wherever it repeats the recipient.
        let lastError: String?
        let created: TimeDisplay?
        let actions: MessageActions
    }

    /// The filter form (a GET form: works without script).
    struct Filters: Encodable {
        let action: String
        let statusOptions: [UsersPage.Option]
        let channelOptions: [UsersPage.Option]
        /// A filter is applied (the empty text then says "no message matches").
        let active: Bool
        let clearHref: String
    }

    let frame: PageFrame
    /// The opt-outs page (`/settings/messages/opt-outs`).
    let optOutsHref: String
    /// The inbound replies page (`/settings/messages/inbound`).
    let inboundHref: String
    let filters: Filters
    let rows: [Row]
    /// The next page (same filters, the API's keyset cursor), if there is one.
    let nextHref: String?
    /// The first page, when this is a later one.
    let firstHref: String?
    /// There is a first or a next page to link to.
    let paged: Bool
    let readOnly: Bool
    /// Recipients are shown masked (viewers).
    let masked: Bool
}

/// `/settings/messages/{public_id}`: one message and its events.
struct MessagePage: Encodable {
    struct Fact: Encodable {
        let label: String
        let value: String?
        let time: TimeDisplay?
        /// A link (the integration's page).
        let href: String?
        let ltr: Bool
        let testID: String?
    }

    struct Event: Encodable {
        let at: TimeDisplay
        let status: String
        let badge: StatusBadge
        let source: String
        let sourceLabel: String
        /// Masked for viewers wherever it repeats the recipient.
        let detail: String?
    }

    let frame: PageFrame
    let listHref: String
    let publicID: String
    let status: String
    let badge: StatusBadge
    let channelLabel: String
    let facts: [Fact]
    /// Masked for viewers wherever it repeats the recipient.
    let lastError: String?
    /// The last error still describes the message (it has not been sent since): shown as an error, else as
    /// an earlier one.
    let lastErrorIsCurrent: Bool
    let subject: String?
    let text: String?
    let templateName: String?
    let events: [Event]
    let actions: MessageActions
    let readOnly: Bool
    /// The recipient is shown masked (viewers).
    let masked: Bool
}

/// Retry and Cancel, as the signed-in role and the message's state allow: managers and admins only, Retry
/// for a failed or dead message, Cancel for a queued one. Each is a form posting back to `returnTo`.
struct MessageActions: Encodable {
    let retryAction: String?
    let cancelAction: String?
    /// Where the action sends the browser back to (this page, with its filters).
    let returnTo: String
}

/// `/settings/messages/inbound`: replies received through webhooks, newest first, a page at a time; read-only
/// for every role.
struct InboundMessagesPage: Encodable {
    struct Row: Encodable {
        let publicID: String
        let received: TimeDisplay
        let channel: String
        let channelLabel: String
        /// Masked for viewers, as the API masks it.
        let from: String
        let text: String?
        /// The patient and the CRM contact whose number is the sender's (either, both or neither).
        let patient: String?
        let contact: String?
        /// `patient`, `contact`, `both` or `none`.
        let matched: String
        /// The reply opted the sender out (`opt_out`) or back in (`opt_in`).
        let action: StatusBadge?
    }

    let frame: PageFrame
    let messagesHref: String
    /// The introduction in runs (the English keywords inside the Arabic text marked as English).
    let intro: [TextPart]
    let rows: [Row]
    let nextHref: String?
    let firstHref: String?
    let paged: Bool
    /// Senders are shown masked (viewers).
    let masked: Bool
}
