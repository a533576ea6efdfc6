#if canImport(Glibc)
import Glibc
#endif

/// Seconds on CLOCK_MONOTONIC (the vDSO: cheap enough to read around every batch).
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// SplitMix64 (Steele, Lea, Flood 2014): a fixed seed gives every run the same offsets.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One result line: keys in the order given, numbers and strings only.
struct JSONObject {
    enum Value {
        case string(String)
        case integer(Int)
        case number(Double)
    }

    var fields: [(String, Value)]

    var text: String {
        "{" + fields.map { "\(quote($0.0)): \(render($0.1))" }.joined(separator: ", ") + "}"
    }

    private func render(_ value: Value) -> String {
        switch value {
        case .string(let text): return quote(text)
        case .integer(let number): return String(number)
        case .number(let number): return number.isFinite ? String(number) : "null"
        }
    }

    private func quote(_ text: String) -> String {
        var quoted = "\""
        for character in text {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }
}
