/// Walks one JSON object field by field, so that every mistake is named: a field the
/// section does not have, a missing one, one of the wrong type. A section's parser lists
/// the fields it knows up front; anything else is refused before any value is looked at.
/// Messages begin with the section ("drives: ...") so that the API and the config file
/// say the same thing.
struct FieldReader {
    let section: String
    private let members: [String: JSONValue]

    init(_ value: JSONValue, section: String, fields known: Set<String>) throws(APIFault) {
        guard case .object(let pairs) = value else {
            throw APIFault("\(section): expected a JSON object, not \(value.kindName)")
        }
        self.section = section
        var members: [String: JSONValue] = [:]
        for (key, value) in pairs {
            guard known.contains(key) else {
                throw APIFault("\(section): unknown field '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
            }
            // JSON null means "not given", as Firecracker's serde reads Option fields.
            if value != .null { members[key] = value }
        }
        self.members = members
    }

    func has(_ key: String) -> Bool { members[key] != nil }

    func value(_ key: String) -> JSONValue? { members[key] }

    private func wrongType(_ key: String, _ expected: String, _ value: JSONValue) -> APIFault {
        APIFault("\(section): \(key) must be \(expected), not \(value.kindName)")
    }

    private func missing(_ key: String) -> APIFault { APIFault("\(section): \(key) is missing") }

    func optionalString(_ key: String) throws(APIFault) -> String? {
        guard let value = members[key] else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, "a string", value) }
        return text
    }

    func string(_ key: String) throws(APIFault) -> String {
        guard let text = try optionalString(key) else { throw missing(key) }
        return text
    }

    /// A string that names something (a path, an id): empty is as good as missing.
    func nonEmptyString(_ key: String) throws(APIFault) -> String {
        let text = try string(key)
        guard !text.isEmpty else { throw APIFault("\(section): \(key) is empty") }
        return text
    }

    func optionalBool(_ key: String) throws(APIFault) -> Bool? {
        guard let value = members[key] else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, "true or false", value) }
        return flag
    }

    func bool(_ key: String) throws(APIFault) -> Bool {
        guard let flag = try optionalBool(key) else { throw missing(key) }
        return flag
    }

    /// A whole number within `range`, read exactly from its JSON text.
    func optionalInteger(_ key: String, in range: ClosedRange<UInt64>) throws(APIFault) -> UInt64? {
        guard let value = members[key] else { return nil }
        guard case .number(let text) = value else { throw wrongType(key, "a whole number", value) }
        guard let number = UInt64(text), range.contains(number) else {
            throw APIFault("\(section): \(key) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(text)")
        }
        return number
    }

    func integer(_ key: String, in range: ClosedRange<UInt64>) throws(APIFault) -> UInt64 {
        guard let number = try optionalInteger(key, in: range) else { throw missing(key) }
        return number
    }

    /// A string that must be one of `choices`.
    func optionalChoice(_ key: String, _ choices: [String]) throws(APIFault) -> String? {
        guard let text = try optionalString(key) else { return nil }
        guard choices.contains(text) else {
            throw APIFault("\(section): \(key) '\(text)' is not one of \(choices.joined(separator: ", "))")
        }
        return text
    }
}
