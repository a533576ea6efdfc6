#if canImport(Glibc)
import Glibc
#endif

// swiftlet-devbench: Swiftlet's virtio back-ends driven in-process through the virtqueue
// engine with fake guest memory, timed, one JSON line per run. bench/run (the "devices"
// part) runs it beside fio and a plain tap loop and turns the figures into ratios.

let usage = """
    usage: swiftlet-devbench blk --file PATH --pattern randread|randwrite|read --bs BYTES --requests N [--batch N] [--seed N]
           swiftlet-devbench net --direction tx|rx --side device|plain --frame BYTES --frames N [--batch N]
           swiftlet-devbench vsock --direction g2h|h2g --side device|plain --mib N
    blk: virtio-blk requests on PATH (buffered preadv/pwritev, as swiftlet does); the time is the device's alone.
    net: frames through a tap, by virtio-net (device) or by plain read/write calls (plain); run it in its own
         network namespace (unshare --net), which it checks, so the tap never meets the host's network.
    vsock: a stream guest->host or host->guest through virtio-vsock and its Unix socket (device), or through a
         plain Unix socket pair (plain).
    """

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    guard let command = arguments.first else { throw DevbenchError(usage) }
    let options = try Options(Array(arguments.dropFirst()))
    let result: JSONObject
    switch command {
    case "blk":
        result = try BlockBenchmark(options).run()
    case "net":
        result = try NetBenchmark(options).run()
    case "vsock":
        result = try VsockBenchmark(options).run()
    default:
        throw DevbenchError(usage)
    }
    print(result.text)
} catch {
    let line = Array("swiftlet-devbench: \(error)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}
