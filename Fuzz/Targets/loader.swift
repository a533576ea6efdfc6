// The kernel loaders on fuzzed files: bzImage setup header, ELF, the whole KernelImage
// (with loading into a small guest) and the payload decompressors.
import SwiftletBoot
import SwiftletMemory

let memory: GuestMemory = {
    do { return try GuestMemory(ranges: [(start: 0, size: 0x400000)]) } catch { fatalError("fuzz: \(error)") }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.u8()
    let bytes = input.rest()
    switch mode % 4 {
    case 0: _ = try? SetupHeader(bzImage: bytes)
    case 1: _ = try? ELFImage(bytes: bytes)
    case 2: _ = try? PayloadDecompressor.decompress(bytes, limit: 1 << 22)
    default:
        if let image = try? KernelImage(path: "fuzz", bytes: bytes) { try? image.load(into: memory) }
    }
    return 0
}
