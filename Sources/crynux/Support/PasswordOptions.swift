import ArgumentParser
import CrynuxSDK
import Foundation

/// `--password-file`, else `CRYNUX_WALLET_PASSWORD`: a keystore's password.
struct PasswordOptions: ParsableArguments {
    @Option(name: .customLong("password-file"), help: "Read the password from the first line of this file (else CRYNUX_WALLET_PASSWORD).")
    var passwordFile: String?

    /// Whether a password was given at all.
    var given: Bool { passwordFile != nil || environment["CRYNUX_WALLET_PASSWORD"] != nil }

    /// The password.
    func password() throws -> String {
        do { return try KeystorePassword.read(file: passwordFile, environmentValue: environment["CRYNUX_WALLET_PASSWORD"]) } catch {
            throw CLIError(error.message)
        }
    }

    /// The key of the keystore at `path`, decrypted with this password.
    func key(from path: String) throws -> PrivateKey {
        do { return try Keystore.read(from: path).decrypt(password: try password()) } catch let error as CLIError { throw error } catch {
            throw CLIError("\(path): \(error)")
        }
    }
}

/// `--scrypt-n` for new keystores.
struct KDFOptions: ParsableArguments {
    @Option(name: .customLong("scrypt-n"), help: "scrypt cost N, a power of two (default 262144, as geth).")
    var scryptN: Int = 262_144
    var kdf: KeystoreKDF { .scrypt(n: scryptN, r: 8, p: 1) }
}
