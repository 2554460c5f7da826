import CrynuxSDK

/// What the Bridge serves: the network client, the models it offers, where it keeps its state, its prices and floors.
public struct BridgeConfiguration: Sendable {
    /// The paying client.
    public var client: CrynuxClient
    /// Chat model ids offered (`GET /v1/models`), each a Hugging Face id the network's nodes serve.
    public var models: [String]
    /// Image model ids offered (Stable Diffusion base models); empty when no node serves images.
    public var imageModels: [String]
    /// Keys, runs and usage.
    public var store: BridgeStore
    /// The fee per LLM task.
    public var fee: Wei
    /// The fee per generated image.
    public var imageFee: Wei
    /// Seconds between `: keep-alive` comments while a streamed answer is computed.
    public var keepAlive: Duration
    /// Below this relay balance, paid requests are refused with 503.
    public var balanceFloor: Wei
    /// How often the balance is read.
    public var balanceInterval: Duration
    /// `max_tokens` when a request gives none.
    public var defaultMaxTokens: Int
    /// On shutdown, how long paid runs in flight may take to finish before they are handed to the next start.
    public var drainTimeout: Duration
    /// How long a paid request waits while its task is queued before the task is cancelled and the request gets 504.
    public var queueTimeout: Duration
    /// Paid runs one key may have unsettled at once.
    public var keyConcurrency: Int
    /// The VRAM floor (GB) of an LLM task whose request names none (`vram_limit`); 24 as the Crynux bridge.
    public var defaultVRAM: Int
    /// Counts prompt tokens for `POST /v1/messages/count_tokens` (the embedded network's engines); nil when the
    /// Bridge holds no tokenizer for its models.
    public var tokenCounter: (any PromptTokenCounter)?

    /// Creates a configuration.
    public init(
        client: CrynuxClient, models: [String], imageModels: [String] = [], store: BridgeStore, fee: Wei = Wei(cnx: 5), imageFee: Wei = Wei(cnx: 1),
        keepAlive: Duration = .seconds(5), balanceFloor: Wei = Wei(cnx: 10), balanceInterval: Duration = .seconds(60), defaultMaxTokens: Int = 256,
        drainTimeout: Duration = .seconds(60), queueTimeout: Duration = .seconds(300), keyConcurrency: Int = 16, defaultVRAM: Int = 24,
        tokenCounter: (any PromptTokenCounter)? = nil
    ) {
        self.client = client
        self.models = models
        self.imageModels = imageModels
        self.store = store
        self.fee = fee
        self.imageFee = imageFee
        self.keepAlive = keepAlive
        self.balanceFloor = balanceFloor
        self.balanceInterval = balanceInterval
        self.defaultMaxTokens = defaultMaxTokens
        self.drainTimeout = drainTimeout
        self.queueTimeout = queueTimeout
        self.keyConcurrency = keyConcurrency
        self.defaultVRAM = defaultVRAM
        self.tokenCounter = tokenCounter
    }
}

/// Counts the tokens of a task's prompt as the model's engine would (chat template, then tokenizer).
public protocol PromptTokenCounter: Sendable {
    /// The prompt tokens of `task`, or nil when this counter does not serve `task.model`.
    func promptTokens(_ task: GPTTaskArgs) throws -> Int?
}
