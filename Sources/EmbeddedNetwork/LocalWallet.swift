import CrynuxSDK
import Foundation

/// Wallets the embedded network keeps for itself: a keystore and a generated password file beside it (both 0600).
public enum LocalWallet {
    /// The key kept in `dir` under `name` (`<name>.json` + `<name>.password`), created on first use.
    public static func loadOrCreate(_ name: String, in dir: String) throws -> PrivateKey {
        let keystore = "\(dir)/\(name).json", passwordFile = "\(dir)/\(name).password"
        if FileManager.default.fileExists(atPath: keystore) {
            let password = try KeystorePassword.read(file: passwordFile, environmentValue: nil)
            return try Keystore.read(from: keystore).decrypt(password: password)
        }
        let key = PrivateKey.generate()
        let password = Hex.encode((0..<24).map { _ in UInt8.random(in: 0...255) })
        guard FileManager.default.createFile(atPath: passwordFile, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw EmbeddedNetworkError("cannot write \(passwordFile)")
        }
        try Keystore.encrypt(key, password: password).write(to: keystore)
        return key
    }
}
