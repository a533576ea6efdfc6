// The 8250 UART's registers: a sequence of guest reads/writes and host input.
import SwiftletDevices
import SwiftletTestSupport

let line = CountingLine()
let uart = Serial8250(interrupt: line, inputCapacity: 64, output: { _ in })

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    uart.reset()
    while !input.isEmpty {
        let op = input.u8()
        // Offsets past the 8-port window too: the bus never sends them, the device must cope.
        let offset = UInt64(op >> 4) & 0xF
        switch op & 3 {
        case 0: _ = uart.read(offset: offset, size: 1)
        case 1: uart.write(offset: offset, size: 1, value: UInt64(input.u8()))
        case 2: _ = uart.receive([UInt8](repeating: input.u8(), count: Int(input.u8() & 0x7F)))
        default: uart.write(offset: offset, size: input.accessSize(), value: input.u64())
        }
    }
    return 0
}
