/// A host end of one vsock connection, as the backend numbers it; never reused while
/// the device may still name it.
public typealias VsockStreamID = UInt64

/// What reading a host stream gave.
public enum VsockRead: Equatable, Sendable {
    /// This many bytes (more than 0).
    case bytes(Int)
    /// Nothing now; the backend reports the stream readable again when watched.
    case wouldBlock
    /// The host program closed its end (or the stream failed): no more bytes will come.
    case end
}

/// The host side of a virtio-vsock device: byte streams to host programs (Unix sockets in
/// swiftlet, in-memory pipes in tests and fuzzing). Every call is made under the device's
/// lock and must neither block nor call back into the device; the backend reports
/// readiness later through `VirtioVsock.streamReadable`/`streamWritable`.
public protocol VsockBackend: AnyObject {
    /// A stream to the host program serving host port `port` (a guest-initiated
    /// connection), or nil when nobody listens there: the device answers RST.
    func connect(toPort port: UInt32) -> VsockStreamID?
    /// Reads into `buffers` (guest memory) in order.
    func read(_ stream: VsockStreamID, into buffers: [UnsafeMutableRawBufferPointer]) -> VsockRead
    /// Writes from `buffers` in order; the count written (0 when the host is not taking
    /// bytes now), or nil when the host end is gone.
    func write(_ stream: VsockStreamID, from buffers: [UnsafeRawBufferPointer]) -> Int?
    /// Which readiness the device wants reported for `stream`. A stream not watched for
    /// reading is not read, so a guest without credit or buffers holds its bytes in the
    /// host socket (and the host program's writes stall), never in our memory.
    func watch(_ stream: VsockStreamID, readable: Bool, writable: Bool)
    /// The guest will send no more: the host program should read end-of-file.
    func shutdownWrite(_ stream: VsockStreamID)
    /// Closes the host end; the device never names `stream` again.
    func close(_ stream: VsockStreamID)
    /// The device has work for the receive queue that no guest kick will bring (answers
    /// to transmitted packets, or a pass that stopped on its budget): call
    /// `VirtioVsock.deliverPending()` from the event loop soon.
    func scheduleDelivery()
    /// The earliest deadline (milliseconds on the device's clock) changed: call
    /// `VirtioVsock.expire()` once it has passed. nil: none pending.
    func deadlineChanged(_ deadline: UInt64?)
}
