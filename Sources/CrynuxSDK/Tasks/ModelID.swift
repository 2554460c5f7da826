/// A model id as the relay keeps it: `base:`, `lora:` or `controlnet:` followed by the name and an
/// optional `+variant`, e.g. `base:crynux-network/sdxl-turbo+fp16`.
public struct ModelID: Sendable, Hashable, CustomStringConvertible {
    /// What the model is for.
    public enum Usage: String, Sendable, Hashable, CaseIterable {
        /// The base model (exactly one per task).
        case base
        /// A LoRA.
        case lora
        /// A ControlNet.
        case controlnet
    }

    /// The usage prefix.
    public var usage: Usage
    /// The HF id or URL.
    public var name: String
    /// The variant, such as `fp16`.
    public var variant: String?

    /// Creates an id.
    public init(_ usage: Usage, name: String, variant: String? = nil) {
        self.usage = usage
        self.name = name
        self.variant = variant
    }

    /// A base-model id.
    public static func base(_ name: String, variant: String? = nil) -> ModelID { ModelID(.base, name: name, variant: variant) }
    /// A LoRA id (LoRAs carry no variant).
    public static func lora(_ name: String) -> ModelID { ModelID(.lora, name: name) }
    /// A ControlNet id.
    public static func controlnet(_ name: String, variant: String? = nil) -> ModelID { ModelID(.controlnet, name: name, variant: variant) }

    /// Parses `usage:name[+variant]`, splitting at the first `:` and the first `+` as the node does.
    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), let usage = Usage(rawValue: String(text[..<colon])) else { return nil }
        let body = text[text.index(after: colon)...]
        if let plus = body.firstIndex(of: "+") {
            name = String(body[..<plus])
            variant = String(body[body.index(after: plus)...])
        } else {
            name = String(body)
            variant = nil
        }
        guard !name.isEmpty else { return nil }
        self.usage = usage
    }

    /// `usage:name[+variant]`, the variant appended only when non-empty.
    public var description: String {
        "\(usage.rawValue):\(name)" + ((variant?.isEmpty ?? true) ? "" : "+\(variant!)")
    }

    /// The relay's normalised form: the whole id lowercased.
    public var normalized: String { description.lowercased() }
}

extension GPTTaskArgs {
    /// The task's model ids: `["base:<model>"]`.
    public var modelIDs: [ModelID] { [.base(model)] }
}

extension SDTaskArgs {
    /// The task's model ids: the base model, then the LoRA and the ControlNet when present.
    public var modelIDs: [ModelID] {
        var ids: [ModelID] = [.base(baseModel.name, variant: baseModel.variant)]
        if let lora { ids.append(.lora(lora.model)) }
        if let controlnet { ids.append(.controlnet(controlnet.model, variant: controlnet.variant)) }
        return ids
    }
}

extension FinetuneLoraTaskArgs {
    /// The task's model ids: `["base:<model>[+variant]"]`.
    public var modelIDs: [ModelID] { [.base(model.name, variant: model.variant)] }
}
