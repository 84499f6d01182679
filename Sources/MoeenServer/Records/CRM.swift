import Fluent
import Foundation
import MoeenCore

final class Patient: Model, @unchecked Sendable {
    static let schema = "patients"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "full_name") var fullName: String
    @OptionalField(key: "phone") var phone: String?
    @OptionalField(key: "email") var email: String?
    @OptionalField(key: "date_of_birth") var dateOfBirth: Date?
    @OptionalField(key: "preferred_channel") var preferredChannel: String?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

final class CRMContact: Model, @unchecked Sendable {
    static let schema = "crm_contacts"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "first_name") var firstName: String
    @OptionalField(key: "last_name") var lastName: String?
    @OptionalField(key: "email") var email: String?
    @OptionalField(key: "phone") var phone: String?
    @OptionalField(key: "company") var company: String?
    @OptionalField(key: "position") var position: String?
    @Field(key: "status") var status: String
    @OptionalField(key: "source") var source: String?
    @OptionalField(key: "notes") var notes: String?
    @Field(key: "tags") var tags: JSONValue
    @OptionalField(key: "address") var address: String?
    @Field(key: "social_media") var socialMedia: JSONValue
    @OptionalField(key: "last_contact_at") var lastContactAt: Date?
    @OptionalField(key: "next_follow_up_at") var nextFollowUpAt: Date?
    @Field(key: "metadata") var metadata: JSONValue
    @OptionalParent(key: "created_by") var createdBy: User?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

final class CRMLead: Model, @unchecked Sendable {
    static let schema = "crm_leads"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "name") var name: String
    @OptionalField(key: "email") var email: String?
    @OptionalField(key: "phone") var phone: String?
    @OptionalField(key: "company") var company: String?
    @Field(key: "status") var status: String
    @OptionalField(key: "source") var source: String?
    @OptionalField(key: "value") var value: Money?
    @Field(key: "probability") var probability: Int
    @OptionalField(key: "notes") var notes: String?
    @Field(key: "tags") var tags: JSONValue
    @OptionalParent(key: "created_by") var createdBy: User?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}

final class CRMDeal: Model, @unchecked Sendable {
    static let schema = "crm_deals"

    @ID(key: .id) var id: UUID?
    @Field(key: "public_id") var publicID: String
    @Field(key: "title") var title: String
    @OptionalParent(key: "contact_id") var contact: CRMContact?
    @OptionalField(key: "contact_name") var contactName: String?
    @OptionalField(key: "value") var value: Money?
    @Field(key: "stage") var stage: String
    @Field(key: "probability") var probability: Int
    @OptionalField(key: "expected_close_date") var expectedCloseDate: Date?
    @OptionalField(key: "notes") var notes: String?
    @Field(key: "tags") var tags: JSONValue
    @OptionalParent(key: "created_by") var createdBy: User?
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}
}
