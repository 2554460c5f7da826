import ArgumentParser
import CrynuxSDK
import Foundation

struct Wallet: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypted keystores (Web3 Secret Storage v3) that any Ethereum wallet opens.", subcommands: [New.self, Address.self, Import.self])

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a random key in a new keystore; prints its address.")
        @Option(help: "Where to write the keystore (never overwritten).") var keystore: String
        @OptionGroup var password: PasswordOptions
        @OptionGroup var kdf: KDFOptions
        func run() throws {
            try emit(WalletTools.create(keystorePath: keystore, password: try password.password(), kdf: kdf.kdf))
        }
    }

    struct Address: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a keystore's address (decrypted and checked when a password is given).")
        @Option(help: "The keystore file.") var keystore: String
        @OptionGroup var password: PasswordOptions
        func run() throws {
            try emit(WalletTools.address(keystorePath: keystore, password: password.given ? try password.password() : nil))
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Encrypt an existing private key read from stdin (hex) into a new keystore.")
        @Option(help: "Where to write the keystore (never overwritten).") var keystore: String
        @OptionGroup var password: PasswordOptions
        @OptionGroup var kdf: KDFOptions
        func run() throws {
            let hex = String(decoding: try readStdin(), as: UTF8.self)
            try emit(WalletTools.importKey(hexText: hex, keystorePath: keystore, password: try password.password(), kdf: kdf.kdf))
        }
    }
}
