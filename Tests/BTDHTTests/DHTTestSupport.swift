import BTDHT
import NIOCore

/// Shared helpers of the DHT tests.
enum T {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func id(_ byte: UInt8, last: UInt8 = 0) -> NodeID {
        NodeID(bytes: [byte] + [UInt8](repeating: 0, count: 18) + [last])!
    }

    static func endpoint(_ text: String, _ port: UInt16 = 6881) -> DHTEndpoint { DHTEndpoint(text, port: port)! }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Decodes a datagram the node sent, which must be valid KRPC.
    static func message(_ action: DHTAction) -> (KRPCMessage, DHTEndpoint)? {
        guard case .send(let datagram, let to) = action, let message = try? KRPCCodec.decode(datagram) else {
            return nil
        }
        return (message, to)
    }

    static func datagram(_ message: KRPCMessage) -> [UInt8] { KRPCCodec.encode(message) }

    static func query(_ query: KRPCQuery, from sender: NodeID, tid: [UInt8] = [1, 2]) -> [UInt8] {
        KRPCCodec.encode(.query(KRPCQueryMessage(transactionID: tid, senderID: sender, query: query)))
    }

    /// The single response or error a node answered with.
    static func answer(_ actions: [DHTAction]) -> KRPCMessage? {
        guard actions.count == 1, let (message, _) = message(actions[0]) else { return nil }
        return message
    }
}
