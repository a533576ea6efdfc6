import Logging
import SwiftletDevices

/// The PC's legacy devices on the port bus, as every boot has them: the 8250, the i8042
/// (keyboard and reset line), the CMOS RTC, the POST port, ACPI's power registers and
/// pvpanic.
struct LegacyDevices {
    let serial: Serial8250
    let keyboard: I8042

    init(ports: Bus, line: (UInt32) -> KVMInterruptLine, cmos: CMOSRTC, consoleOutput: @escaping @Sendable ([UInt8]) -> Void,
         console: ConsoleInput, control: RunControl, panicRebootTimeout: Int, logger: Logger) throws {
        serial = Serial8250(interrupt: line(4), output: consoleOutput, inputSpace: console.spaceAvailable)
        try ports.insert(serial, at: 0x3F8, size: 8, name: "8250 UART (COM1)")
        keyboard = I8042(keyboardInterrupt: line(1), control: control)
        try ports.insert(keyboard, at: 0x60, size: 5, name: "i8042")
        // Battery-backed CMOS outlives a reset, so it outlives each boot: the caller keeps it.
        try ports.insert(cmos, at: 0x70, size: 2, name: "CMOS RTC")
        try ports.insert(DebugPort(), at: 0x80, size: 1, name: "POST code port")
        let power = ACPIPowerDevice(control: control, unsupportedSleep: { [logger] type in
            logger.debug("guest asked for sleep type \(type); only S5 (power-off) is supported")
        })
        try ports.insert(power, at: 0x600, size: 8, name: "ACPI power")
        logger.debug("devices: 8250 at 0x3f8 (IRQ 4), i8042 at 0x60/0x64, CMOS RTC at 0x70, POST port 0x80, ACPI power at 0x600")
        try ports.insert(Self.pvpanic(rebootTimeout: panicRebootTimeout, control: control, logger: logger),
                         at: PVPanic.port, size: 1, name: "pvpanic")
    }

    /// The pvpanic device: a panic ends the run, unless the guest's `panic=N` says it will
    /// reboot by itself, which it then may.
    static func pvpanic(rebootTimeout: Int, control: RunControl, logger: Logger) -> PVPanic {
        PVPanic { event in
            if event & PVPanic.panicked != 0 {
                if rebootTimeout != 0 {
                    logger.info("the guest panicked; its panic=\(rebootTimeout) reboots it")
                } else {
                    control.finish(.guestPanic)
                }
            } else {
                logger.info("pvpanic event 0x\(String(event, radix: 16)) (crash kernel loaded)")
            }
        }
    }
}
