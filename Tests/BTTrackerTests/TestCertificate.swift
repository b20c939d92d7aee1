import BTTracker
import Foundation

/// A self-signed certificate and its key, made by `openssl` at test time in a fresh temporary folder.
struct TestCertificate: Sendable {
    /// The folder holding both files (remove it with ``remove()``).
    let directory: URL
    /// Path of the certificate (PEM); it is its own root.
    let certificate: String
    /// Path of the private key (PEM).
    let key: String

    /// Makes a P-256 certificate for `CN=localhost` valid for the subject alternative names `names`
    /// (`IP:127.0.0.1`, `DNS:localhost`, ...). `openssl` runs bounded, off the cooperative thread pool.
    static func make(names: [String]) async throws -> TestCertificate {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nbt-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = TestCertificate(
            directory: directory, certificate: directory.appendingPathComponent("cert.pem").path,
            key: directory.appendingPathComponent("key.pem").path)
        let arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=" + names.joined(separator: ","), "-days", "2",
            "-keyout", made.key, "-out", made.certificate,
        ]
        let status = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<Int32, any Error>) in
            DispatchQueue.global().async {
                do {
                    let process = try TestProcess(arguments, seconds: 30)
                    process.process.waitUntilExit()
                    continuation.resume(returning: process.process.terminationStatus)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        guard status == 0, FileManager.default.fileExists(atPath: made.certificate) else {
            made.remove()
            throw TrackerTestError("openssl could not make a certificate (status \(status))")
        }
        return made
    }

    /// Deletes the folder.
    func remove() { try? FileManager.default.removeItem(at: directory) }
}
