/// "--name value" pairs from the command line, read by name and type.
struct Options {
    private var values: [String: String] = [:]

    init(_ arguments: [String]) throws(DevbenchError) {
        var rest = arguments[...]
        while let name = rest.popFirst() {
            guard name.hasPrefix("--"), let value = rest.popFirst() else {
                throw DevbenchError("expected --name value, got \(name)")
            }
            values[String(name.dropFirst(2))] = value
        }
    }

    func string(_ name: String) throws(DevbenchError) -> String {
        guard let value = values[name] else { throw DevbenchError("--\(name) is missing") }
        return value
    }

    func integer(_ name: String, default fallback: Int? = nil, in range: ClosedRange<Int> = 1...Int.max)
        throws(DevbenchError) -> Int
    {
        guard let text = values[name] else {
            guard let fallback else { throw DevbenchError("--\(name) is missing") }
            return fallback
        }
        guard let value = Int(text), range.contains(value) else {
            throw DevbenchError("--\(name) \(text): not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func choice<T: RawRepresentable>(_ name: String, _ type: T.Type) throws(DevbenchError) -> T
    where T.RawValue == String {
        let text = try string(name)
        guard let value = T(rawValue: text) else { throw DevbenchError("--\(name) \(text): not a known choice") }
        return value
    }
}
