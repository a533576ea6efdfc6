/// The few keys Swiftlet's keyboard can press, in the codes a PS/2 keyboard sends (scan
/// code set 2), and the 8042's translation of them into set 1, which is what a guest
/// reads when the controller's translation bit (CTR bit 6) is on, as firmware leaves it.
///
/// Set 2 sends a key's make code on press and F0 then the make code on release; extended
/// keys put E0 in front of both. Translation turns each set 2 code into its set 1
/// equivalent and folds an F0 prefix into the next code's bit 7, so a release becomes
/// make | 0x80 (IBM PS/2 Technical Reference, keyboard scan code sets 1 and 2).
enum PS2Scancodes {
    static let extendedPrefix: UInt8 = 0xE0
    static let breakPrefix: UInt8 = 0xF0

    /// Left Ctrl, left Alt and Delete (an extended key) in set 2.
    static let leftControl: UInt8 = 0x14
    static let leftAlt: UInt8 = 0x11
    static let delete: UInt8 = 0x71

    /// Ctrl and Alt held, Delete pressed and released, then Alt and Ctrl released: the
    /// bytes a keyboard sends for the salute, in set 2.
    static let controlAltDelete: [UInt8] = [
        leftControl, leftAlt, extendedPrefix, delete,
        extendedPrefix, breakPrefix, delete, breakPrefix, leftAlt, breakPrefix, leftControl,
    ]

    /// The set 1 code for a set 2 make code. Only the codes our keys send are here; the
    /// controller's real table has all 128, and an unknown code passes through unchanged.
    static func translated(_ code: UInt8) -> UInt8 {
        switch code {
        case leftControl: 0x1D
        case leftAlt: 0x38
        case delete: 0x53
        default: code
        }
    }
}
