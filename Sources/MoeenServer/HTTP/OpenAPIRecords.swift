import Foundation

/// The part of the OpenAPI document that describes API.md's "CRM and care records": generated from
/// `RecordCollections`, the same declarations that build those routes and check their bodies, so the two
/// cannot drift. The rest of the document is kept by hand (`Resources/OpenAPI/openapi.yaml`), which has a
/// marker comment where each generated part goes.
enum OpenAPIRecords {
    static let pathsMarker = "  #@records-paths"
    static let schemasMarker = "    #@records-schemas"

    /// The hand-kept document with the generated paths and schemas put in at their markers.
    static func merged(into text: String) -> String {
        text.replacingOccurrences(of: pathsMarker, with: YAMLNode.map(paths()).lines(indent: 2).joined(separator: "\n"))
            .replacingOccurrences(of: schemasMarker, with: YAMLNode.map(schemas()).lines(indent: 4).joined(separator: "\n"))
    }

    // MARK: - Paths

    static func paths() -> [(String, YAMLNode)] {
        RecordCollections.all.flatMap { collection -> [(String, YAMLNode)] in
            let base = "/api/" + collection.routePath.map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : $0 }.joined(separator: "/")
            let one = base + "/{\(collection.itemParameter)}"
            let name = schemaName(collection)
            let plural = collection.path.last ?? collection.key
            let noun = collection.noun.lowercased()
            let article = "aeiou".contains(noun.prefix(1)) ? "an" : "a"
            var shared: [YAMLNode] = []
            if collection.parent != nil { shared.append(parameter("id", in: "path", "The parent's UUID or public id.", ["type": "string"])) }
            var list: [(String, YAMLNode)] = shared.isEmpty ? [] : [("parameters", .list(shared))]
            list += [
                ("get", operation(
                    collection, id: "list\(name)s", summary: "List \(plural)", role: "viewer (any signed-in role)",
                    description: "Oldest first. `q` searches \(searchDescription(collection)) (case-insensitive, Arabic included); "
                        + "the other parameters filter by equality.",
                    parameters: listParameters(collection),
                    success: ("200", "A page of \(plural).", listSchema(name)),
                    errors: ["400", "401", "403"] + (collection.parent == nil ? [] : ["404"]) + ["422", "503"])),
                ("post", operation(
                    collection, id: "create\(name)", summary: "Create \(article) \(noun)", role: "staff",
                    description: "Unknown or read-only keys, a value outside the allowed values or ranges, and a reference to "
                        + "nothing are 422 naming the field. Written to `audit_logs`.",
                    body: ref("\(name)Create"),
                    success: ("201", "The new \(collection.noun.lowercased()).", ref(name)),
                    errors: ["400", "401", "403"] + (collection.parent == nil ? [] : ["404"]) + ["409", "413", "422", "503"])),
            ]
            var itemParameters = shared
            itemParameters.append(parameter(collection.itemParameter, in: "path", "The UUID or the public id.", ["type": "string"]))
            let item: [(String, YAMLNode)] = [
                ("parameters", .list(itemParameters)),
                ("get", operation(
                    collection, id: "get\(name)", summary: "One \(noun)", role: "viewer (any signed-in role)",
                    description: "", success: ("200", "The \(collection.noun.lowercased()).", ref(name)),
                    errors: ["401", "403", "404", "422", "503"])),
                ("patch", operation(
                    collection, id: "update\(name)", summary: "Change \(article) \(noun)", role: "staff",
                    description: "Only the fields sent change; `null` clears an optional field (a field with a default goes "
                        + "back to it). Written to `audit_logs`.",
                    body: ref("\(name)Update"),
                    success: ("200", "The changed \(collection.noun.lowercased()).", ref(name)),
                    errors: ["400", "401", "403", "404", "409", "413", "422", "503"])),
                ("delete", operation(
                    collection, id: "delete\(name)", summary: "Delete \(article) \(noun)", role: "staff",
                    description: deleteRule(collection), success: ("204", "Deleted.", nil),
                    errors: ["401", "403", "404", "422", "503"])),
            ]
            return [(base, .map(list)), (one, .map(item))]
        }
    }

    static func operation(
        _ collection: RecordCollection, id: String, summary: String, role: String, description: String,
        parameters: [YAMLNode] = [], body: YAMLNode? = nil, success: (String, String, YAMLNode?), errors: [String]
    ) -> YAMLNode {
        var entries: [(String, YAMLNode)] = [
            ("tags", .list([.string(collection.path.first == "crm" ? "crm" : "care")])),
            ("operationId", .string(id)),
            ("summary", .string(summary)),
            ("description", .string("Role: \(role).\(description.isEmpty ? "" : " " + description)")),
        ]
        if !parameters.isEmpty { entries.append(("parameters", .list(parameters))) }
        if let body {
            entries.append(("requestBody", .map([
                ("required", .raw("true")),
                ("content", .map([("application/json", .map([("schema", body)]))])),
            ])))
        }
        var answer: [(String, YAMLNode)] = [("description", .string(success.1))]
        if let schema = success.2 { answer.append(("content", .map([("application/json", .map([("schema", schema)]))]))) }
        var responses: [(String, YAMLNode)] = [(success.0, .map(answer))]
        for code in errors { responses.append((code, ref(errorResponses[code] ?? "BadRequest", kind: "responses"))) }
        entries.append(("responses", .map(responses)))
        return .map(entries)
    }

    static let errorResponses = [
        "400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound", "409": "Conflict",
        "413": "PayloadTooLarge", "422": "ValidationFailed", "503": "ServiceUnavailable",
    ]

    static func listParameters(_ collection: RecordCollection) -> [YAMLNode] {
        var result: [YAMLNode] = [ref("Limit", kind: "parameters"), ref("Cursor", kind: "parameters")]
        result.append(parameter("q", in: "query", "Text to search for (at most \(SearchText.maximumQueryLength) characters).",
                                ["type": "string"]))
        result.append(parameter("created_after", in: "query", "Created at or after this time (RFC 3339).",
                                ["type": "string", "format": "date-time"]))
        result.append(parameter("created_before", in: "query", "Created before this time (RFC 3339).",
                                ["type": "string", "format": "date-time"]))
        for field in collection.fields where field.filterable {
            var schema: [String: Any] = ["type": "string"]
            switch field.kind {
            case .choice(let values): schema["enum"] = values
            case .bool: schema = ["type": "boolean"]
            default: break
            }
            result.append(parameter(field.name, in: "query", "Only records whose \(field.name) equals this.", schema))
        }
        return result
    }

    static func parameter(_ name: String, in location: String, _ description: String, _ schema: [String: Any]) -> YAMLNode {
        var entries: [(String, YAMLNode)] = [("name", .string(name)), ("in", .string(location))]
        if location == "path" { entries.append(("required", .raw("true"))) }
        entries.append(("description", .string(description)))
        entries.append(("schema", node(schema)))
        return .map(entries)
    }

    static func searchDescription(_ collection: RecordCollection) -> String {
        collection.searchableFields.map { "`\($0.name)`" }.joined(separator: ", ")
    }

    static func deleteRule(_ collection: RecordCollection) -> String {
        switch collection.key {
        case "contacts": "Their activities go with them; their deals stay, with `contact_id` set to null. Written to `audit_logs`."
        case "patients": "Their care records go with them; their messages stay, with `patient_id` set to null. Written to `audit_logs`."
        case "training-programs": "Patients' progress in the program goes with it. Written to `audit_logs`."
        default: "Written to `audit_logs`."
        }
    }

    // MARK: - Schemas

    static func schemaName(_ collection: RecordCollection) -> String {
        collection.noun.split(separator: " ").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static func schemas() -> [(String, YAMLNode)] {
        RecordCollections.all.flatMap { collection -> [(String, YAMLNode)] in
            let name = schemaName(collection)
            var answer: [(String, YAMLNode)] = [
                ("id", node(["type": "string", "format": "uuid"])),
                ("public_id", node(["type": "string", "description": "`\(collection.prefix.rawValue)_…`"])),
            ]
            if let parent = collection.parent { answer.append((parent.column, node(["type": ["string", "null"], "format": "uuid"]))) }
            for field in collection.fields { answer.append((field.name, answerSchema(field))) }
            answer.append(("created_at", ref("Timestamp")))
            answer.append(("updated_at", ref("Timestamp")))
            let record: YAMLNode = .map([
                ("type", .string("object")),
                ("description", .string("A \(collection.noun.lowercased()) (`\(collection.table)`); every key is present, `null` when unset.")),
                ("required", .list(answer.map { .string($0.0) })),
                ("properties", .map(answer)),
            ])
            return [
                (name, record),
                ("\(name)Create", input(collection, creating: true)),
                ("\(name)Update", input(collection, creating: false)),
            ]
        }
    }

    /// A body the server checks key by key: unknown keys are refused, so `additionalProperties: false`.
    static func input(_ collection: RecordCollection, creating: Bool) -> YAMLNode {
        var entries: [(String, YAMLNode)] = [
            ("type", .string("object")),
            ("additionalProperties", .raw("false")),
        ]
        let required = collection.fields.filter(\.required).map(\.name)
        if creating, !required.isEmpty { entries.append(("required", .list(required.map(YAMLNode.string)))) }
        entries.append(("properties", .map(collection.fields.map { ($0.name, inputSchema($0)) })))
        return .map(entries)
    }

    static func answerSchema(_ field: RecordField) -> YAMLNode {
        var schema = valueSchema(field.kind, answering: true)
        schema["type"] = nullable(schema["type"])
        if case .choice(let values) = field.kind { schema["enum"] = (values as [Any]) + [NSNull()] }
        return node(schema)
    }

    static func inputSchema(_ field: RecordField) -> YAMLNode {
        var schema = valueSchema(field.kind, answering: false)
        if !field.required {
            schema["type"] = nullable(schema["type"])
            if case .choice(let values) = field.kind { schema["enum"] = (values as [Any]) + [NSNull()] }
        }
        var notes: [String] = []
        if field.required { notes.append("Required.") }
        if field.defaultsToNow { notes.append("Left out or null: now.") }
        if case .text(let maxLength) = field.kind { notes.append("At most \(maxLength) characters (trimmed; empty counts as absent).") }
        if case .tags = field.kind { notes.append("At most 50 texts of 1 to 100 characters.") }
        if case .object = field.kind { notes.append("At most 64 KB of JSON.") }
        if !notes.isEmpty { schema["description"] = ([schema["description"] as? String].compactMap { $0 } + notes).joined(separator: " ") }
        return node(schema)
    }

    static func nullable(_ type: Any?) -> Any {
        switch type {
        case let list as [String]: list + ["null"]
        case let single as String: [single, "null"]
        default: ["null"]
        }
    }

    /// The JSON Schema of one value of `kind`, as answered (`answering`) or as accepted.
    static func valueSchema(_ kind: RecordFieldKind, answering: Bool) -> [String: Any] {
        switch kind {
        case .text: return ["type": "string"]
        case .email: return ["type": "string", "description": "An e-mail address (stored lower case)."]
        case .phone: return ["type": "string", "description": "A phone number (Saudi local forms accepted), answered in E.164."]
        case .choice: return ["type": "string"]
        case .integer(let range): return ["type": "integer", "minimum": range.lowerBound, "maximum": range.upperBound]
        case .percentage: return ["type": "integer", "minimum": 0, "maximum": 100]
        case .decimal:
            return answering
                ? ["type": "string", "pattern": "^-?[0-9]{1,12}\\.[0-9]{2}$", "description": "Money: a decimal string."]
                : ["type": ["string", "number"], "description": "Money: a decimal with at most 2 decimals, best sent as a string (\"1250.00\")."]
        case .date: return ["type": "string", "format": "date"]
        case .time: return ["type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"]
        case .timestamp: return ["type": "string", "format": "date-time"]
        case .bool: return ["type": "boolean"]
        case .tags: return answering ? ["type": "array", "items": ["type": "string"]] : ["type": "array", "maxItems": 50, "items": ["type": "string"]]
        case .object: return ["type": "object"]
        case .url: return ["type": "string", "description": "An http or https URL."]
        case .reference(let target):
            return answering
                ? ["type": "string", "format": "uuid", "description": "The id of \(target.noun)."]
                : ["type": "string", "description": "The id of \(target.noun) (UUID\(target == .user ? "" : " or public id"))."]
        }
    }

    /// The list envelope with items of the schema `name`.
    static func listSchema(_ name: String) -> YAMLNode {
        .map([("allOf", .list([
            ref("ListEnvelope"),
            .map([("properties", .map([("data", .map([("items", ref(name))]))]))]),
        ]))])
    }

    static func ref(_ name: String, kind: String = "schemas") -> YAMLNode {
        .map([("$ref", .string("#/components/\(kind)/\(name)"))])
    }

    /// A node from plain values (dictionaries are written with their keys sorted, for a stable document).
    static func node(_ value: Any) -> YAMLNode {
        switch value {
        case let map as [String: Any]: .map(map.keys.sorted().map { ($0, node(map[$0] as Any)) })
        case let list as [Any]: .list(list.map(node))
        case let text as String: .string(text)
        case let number as Int: .raw(String(number))
        case let flag as Bool: .raw(flag ? "true" : "false")
        default: .raw("null")
        }
    }
}
