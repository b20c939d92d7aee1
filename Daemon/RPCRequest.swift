/// One Transmission RPC call, from either form of the protocol:
/// - the original form (`docs/rpc-spec.md` §2.1): `{"method": "torrent-get", "arguments": {...}, "tag": 7}`;
/// - the JSON-RPC 2.0 form of Transmission 4.1: `{"jsonrpc": "2.0", "method": "torrent_get",
///   "params": {...}, "id": 7}`.
///
/// The method and the argument names are kept in snake_case (`RPCKeys`), whatever the request used; the
/// form remembers how to answer.
public struct RPCRequest: Sendable, Hashable {
    /// How the request was written, and so how its answer must be.
    public enum Form: Sendable, Hashable {
        /// The original form, with its optional `tag` (echoed back).
        case legacy(tag: JSONValue?)
        /// JSON-RPC 2.0 with its `id`; nil for a notification (no answer body).
        case jsonRPC(id: JSONValue?)
    }

    /// The method, in snake_case (`torrent_get`).
    public var method: String
    /// The arguments, their names in snake_case (values untouched).
    public var arguments: [String: JSONValue]
    /// The form of the request.
    public var form: Form

    /// Most bytes of method names the parser accepts; longer ones are refused as invalid requests.
    static let maximumMethodLength = 64

    /// A request.
    public init(method: String, arguments: [String: JSONValue] = [:], form: Form = .legacy(tag: nil)) {
        self.method = RPCKeys.snake(method)
        self.arguments = [:]
        for (key, value) in arguments { self.arguments[RPCKeys.snake(key)] = value }
        self.form = form
    }

    /// Parses an HTTP body.
    /// - Throws: ``DaemonError`` with ``DaemonError/Code/malformedJSON`` (not JSON) or
    ///   ``DaemonError/Code/invalidRequest`` (JSON, but not a request; the error carries the form when it is
    ///   known through ``RPCRequestError``).
    public static func parse(_ body: some Collection<UInt8>) throws(RPCRequestError) -> RPCRequest {
        let json: JSONValue
        do {
            json = try JSONValue.parse(body)
        } catch {
            throw RPCRequestError(error: error, form: .legacy(tag: nil))
        }
        guard case .object(let top) = json else {
            throw RPCRequestError(
                error: DaemonError(.invalidRequest, "the request is not a JSON object"), form: .legacy(tag: nil))
        }
        let form: Form
        let argumentsValue: JSONValue?
        if let version = top["jsonrpc"] {
            form = .jsonRPC(id: top["id"])
            guard version == .string("2.0") else {
                throw RPCRequestError(error: DaemonError(.invalidRequest, "jsonrpc must be \"2.0\""), form: form)
            }
            argumentsValue = top["params"]
        } else {
            let tag = top["tag"]
            form = .legacy(tag: tag?.intValue != nil ? tag : nil)
            argumentsValue = top["arguments"]
        }
        guard let method = top["method"]?.stringValue, !method.isEmpty else {
            throw RPCRequestError(error: DaemonError(.invalidRequest, "no method name"), form: form)
        }
        guard method.utf8.count <= maximumMethodLength else {
            throw RPCRequestError(error: DaemonError(.unknownMethod, "method name not recognized"), form: form)
        }
        var arguments: [String: JSONValue] = [:]
        switch argumentsValue {
        case nil, .null?: break
        case .object(let members)?: arguments = members
        default:
            throw RPCRequestError(error: DaemonError(.invalidRequest, "arguments must be an object"), form: form)
        }
        return RPCRequest(method: method, arguments: arguments, form: form)
    }
}

/// A request that could not be parsed: the error and the form to answer it in.
public struct RPCRequestError: Error, Sendable {
    /// What was wrong.
    public var error: DaemonError
    /// How to answer.
    public var form: RPCRequest.Form
}
