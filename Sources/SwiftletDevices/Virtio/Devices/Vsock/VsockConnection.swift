/// A connection is named by its two ports: the guest's and the host's (the CIDs are
/// fixed, the guest's and 2).
public struct VsockConnectionKey: Hashable, Sendable, CustomStringConvertible {
    public var guestPort: UInt32
    public var hostPort: UInt32

    public init(guestPort: UInt32, hostPort: UInt32) {
        self.guestPort = guestPort
        self.hostPort = hostPort
    }

    public var description: String { "guest:\(guestPort)<->host:\(hostPort)" }
}

/// One stream between a guest socket and a host program, and its credit both ways
/// (virtio 1.2 section 5.10.6.3): each side says how much buffer it has (buf_alloc) and
/// how much it has consumed (fwd_cnt), and the other never has more in flight than that.
final class VsockConnection {
    enum State: Equatable {
        /// Host-initiated: we sent REQUEST and wait for RESPONSE until the deadline.
        case connecting(deadline: UInt64)
        case established
        /// One side finished: the guest closed (we still flush its bytes to the host) or
        /// the host ended (we said SHUTDOWN and wait for the guest's RST). RST at the deadline.
        case closing(deadline: UInt64)
    }

    let key: VsockConnectionKey
    let stream: VsockStreamID
    var state: State

    // MARK: Guest → host

    /// RW payload bytes received from the guest (its tx_cnt, as we count it).
    var received: UInt32 = 0
    /// Of those, bytes the host program took (our fwd_cnt).
    var forwarded: UInt32 = 0
    /// The fwd_cnt the guest last saw from us: its credit is counted from this.
    var advertisedForwarded: UInt32 = 0
    /// Bytes waiting for the host program; its first `greeting` bytes are our own
    /// `OK <port>\n`, which is no guest data and costs no credit.
    var hostBound = VsockByteQueue()
    var greeting = 0
    /// The guest's SHUTDOWN flags so far.
    var guestShutdown: UInt32 = 0
    /// The host end was told end-of-file (after the guest said it sends no more).
    var hostWriteShut = false
    /// A CREDIT_UPDATE is queued and not yet delivered.
    var creditUpdateQueued = false

    // MARK: Host → guest

    /// RW payload bytes sent to the guest (our tx_cnt).
    var sent: UInt32 = 0
    /// The guest's buf_alloc and fwd_cnt, from its latest header.
    var peerBufferAllocation: UInt32 = 0
    var peerForwarded: UInt32 = 0
    /// The host stream was reported readable and not read dry since (so it is not watched).
    var hostReadable = false
    /// The host stream ended: nothing more to read.
    var hostEnded = false
    /// We asked the guest for credit and have not heard since.
    var creditRequested = false

    /// What the backend was last told to watch.
    var watchingRead = false
    var watchingWrite = false

    init(key: VsockConnectionKey, stream: VsockStreamID, state: State) {
        self.key = key
        self.stream = stream
        self.state = state
    }

    /// Bytes we may send the guest now: its buffer less what is in flight. A guest that
    /// shrank its buffer below what is in flight gets nothing until it catches up.
    var peerCredit: UInt32 {
        let inFlight = sent &- peerForwarded
        return inFlight <= peerBufferAllocation ? peerBufferAllocation - inFlight : 0
    }

    /// Whether bytes from the host stream may go to the guest at all.
    var readsHost: Bool {
        guard !hostEnded, guestShutdown & VsockProtocol.shutdownReceive == 0 else { return false }
        switch state {
        case .established: return true
        case .connecting, .closing: return false
        }
    }

    var deadline: UInt64? {
        switch state {
        case .connecting(let deadline), .closing(let deadline): return deadline
        case .established: return nil
        }
    }

    var isEstablished: Bool { state == .established }
}
