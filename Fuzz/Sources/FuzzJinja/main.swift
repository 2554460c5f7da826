import CrynuxSDK
import Foundation

/// A chat template → parsed and rendered for a short conversation, within the template limits: errors, never a
/// crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJinja(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let source = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let template = try? ChatTemplate(source: source) else { return 0 }
    let messages = [
        ChatMessage(role: .system, content: .text("Be brief.")), ChatMessage(role: .user, content: .text("Hi <b>there</b>")),
        ChatMessage(role: .assistant, content: .text("Hello.")),
    ]
    _ = try? template.render(messages: messages, addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>", now: Date(timeIntervalSince1970: 0))
    return 0
}
