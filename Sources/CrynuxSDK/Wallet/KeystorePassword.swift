import Foundation

/// Where a keystore's password comes from: the first line of a file, or else a value the caller read from its
/// environment (`CRYNUX_WALLET_PASSWORD` for the `crynux` tools; the library never reads the environment itself).
public enum KeystorePassword {
    /// The password from `file` (its first line), or else `environmentValue`.
    public static func read(file: String?, environmentValue: String?) throws(WalletError) -> String {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw WalletError(.missingPassword, "cannot read the password file \(file)")
            }
            var text = String(decoding: data, as: UTF8.self)
            if let newline = text.firstIndex(where: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) { text = String(text[..<newline]) }
            return text
        }
        if let environmentValue { return environmentValue }
        throw WalletError(.missingPassword, "no password: pass --password-file FILE or set CRYNUX_WALLET_PASSWORD")
    }
}
