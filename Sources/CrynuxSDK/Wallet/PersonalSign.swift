/// EIP-191 version 0x45 signing (`personal_sign`), as wallets sign text for a human.
public enum PersonalSign {
    /// Keccak-256 of `"\u{19}Ethereum Signed Message:\n" + length + message`.
    public static func digest(message: [UInt8]) -> [UInt8] {
        let prefix = "\u{19}Ethereum Signed Message:\n\(message.count)"
        return Keccak256.hash(Array(prefix.utf8) + message)
    }

    /// Signs `message`; the result's bytes use v = 27/28 as wallets write it (`bytes(vOffset: 27)`).
    public static func sign(message: [UInt8], with key: PrivateKey) -> RecoverableSignature {
        key.sign(digest: digest(message: message))
    }

    /// The address that signed `message`; `signature` is 65 bytes with v in 0/1 or 27/28.
    public static func recoverAddress(message: [UInt8], signature: [UInt8]) throws(WalletError) -> Address {
        let sig = try RecoverableSignature(bytes: signature, allowEthereumV: true)
        return try sig.recoverPublicKey(digest: digest(message: message)).address
    }
}
