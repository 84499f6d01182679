import Foundation

/// A small YAML writer: block mappings and sequences, every string double-quoted (so no text can break it).
indirect enum YAMLNode {
    case string(String)
    /// Written as is: numbers, `true`, `false`, `null`.
    case raw(String)
    case map([(String, YAMLNode)])
    case list([YAMLNode])

    func lines(indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .string, .raw: return [pad + inline]
        case .map(let entries):
            return entries.flatMap { key, value -> [String] in
                let head = pad + Self.quote(key) + ":"
                if let inline = value.inlineForm { return [head + " " + inline] }
                return [head] + value.lines(indent: indent + 2)
            }
        case .list(let items):
            return items.flatMap { item -> [String] in
                if let inline = item.inlineForm { return [pad + "- " + inline] }
                var nested = item.lines(indent: indent + 2)
                if !nested.isEmpty { nested[0] = pad + "- " + String(nested[0].dropFirst(indent + 2)) }
                return nested
            }
        }
    }

    /// The one-line form of scalars, empty collections and lists of scalars.
    var inlineForm: String? {
        switch self {
        case .string, .raw: inline
        case .map(let entries) where entries.isEmpty: "{}"
        case .list(let items) where items.allSatisfy(\.isScalar): "[" + items.map(\.inline).joined(separator: ", ") + "]"
        default: nil
        }
    }

    var isScalar: Bool {
        switch self {
        case .string, .raw: true
        default: false
        }
    }

    private var inline: String {
        switch self {
        case .string(let text): Self.quote(text)
        case .raw(let text): text
        default: ""
        }
    }

    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 { result += String(format: "\\x%02X", scalar.value) } else { result.unicodeScalars.append(scalar) }
            }
        }
        return result + "\""
    }
}
