import CrynuxSDK
import Foundation

/// What a ledger row records.
public enum LedgerKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Money entering a relay account (a chain deposit, or the development faucet).
    case deposit = "Deposit"
    /// A task fee moved from the creator into escrow.
    case taskPayment = "TaskPayment"
    /// An escrowed fee returned to the creator.
    case taskRefund = "TaskRefund"
    /// An escrowed fee (or part of it) paid to a node.
    case taskIncome = "TaskIncome"
    /// The DAO's share of a paid fee.
    case daoFee = "DAOFee"
    /// An escrowed fee kept by the relay (an invalidated task: no refund, no income).
    case taskForfeit = "TaskForfeit"
}

/// One append-only ledger row. Balances always equal the sum of their rows.
public struct LedgerEntry: Sendable, Hashable, Codable {
    /// From 1, in order.
    public var id: Int
    /// Unix seconds.
    public var time: Int64
    /// The movement.
    public var kind: LedgerKind
    /// The relay account credited or debited.
    public var account: String
    /// Always positive; `kind` says the direction.
    public var amount: Wei
    /// The task it concerns.
    public var task: String?
}
