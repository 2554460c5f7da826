/// The arguments of a Stable Diffusion image task (`stable-diffusion-task` `InferenceTaskArgs`, schema
/// `stable-diffusion-inference-task.json` v3.1.0).
///
/// Fields left `nil` are omitted; the worker's defaults then apply (version 2.5.0, dtype auto,
/// 512×512, 1 step, seed 0, 6 images, safety checker on, cfg 5, DPMSolverMultistep scheduler).
public struct SDTaskArgs: TaskArguments {
    /// Image tasks are task type 0.
    public static var taskType: TaskType { .sd }

    /// The task-args version (`1.0.0`, `2.0.0`, `2.1.0`, `2.5.0` or `2.5.2` per the v3.1.0 schema).
    public var version: String?
    /// The base model.
    public var baseModel: SDBaseModel
    /// The precision.
    public var dtype: TaskDType?
    /// A replacement UNet (HF id or URL).
    public var unet: String?
    /// The prompt; Compel weighting (`word++`) is allowed.
    public var prompt: String
    /// The negative prompt.
    public var negativePrompt: String?
    /// Size, steps, seed and the like.
    public var taskConfig: SDTaskConfig
    /// A LoRA to apply.
    public var lora: SDLoraArgs?
    /// A ControlNet to condition on.
    public var controlnet: SDControlNetArgs?
    /// The scheduler.
    public var scheduler: SDScheduler?
    /// A replacement VAE (HF id or URL).
    public var vae: String?
    /// An SDXL refiner.
    public var refiner: SDRefinerArgs?
    /// A textual-inversion embedding (HF id or URL).
    public var textualInversion: String?

    /// The versions the v3.1.0 schema accepts.
    public static let schemaVersions = ["1.0.0", "2.0.0", "2.1.0", "2.5.0", "2.5.2"]

    /// Creates image task arguments.
    public init(
        version: String? = nil, baseModel: SDBaseModel, dtype: TaskDType? = nil, unet: String? = nil, prompt: String,
        negativePrompt: String? = nil, taskConfig: SDTaskConfig = SDTaskConfig(), lora: SDLoraArgs? = nil,
        controlnet: SDControlNetArgs? = nil, scheduler: SDScheduler? = nil, vae: String? = nil, refiner: SDRefinerArgs? = nil,
        textualInversion: String? = nil
    ) {
        self.version = version
        self.baseModel = baseModel
        self.dtype = dtype
        self.unet = unet
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.taskConfig = taskConfig
        self.lora = lora
        self.controlnet = controlnet
        self.scheduler = scheduler
        self.vae = vae
        self.refiner = refiner
        self.textualInversion = textualInversion
    }

    enum CodingKeys: String, CodingKey {
        case version
        case baseModel = "base_model"
        case dtype, unet, prompt
        case negativePrompt = "negative_prompt"
        case taskConfig = "task_config"
        case lora, controlnet, scheduler, vae, refiner
        case textualInversion = "textual_inversion"
    }

    /// Decodes, refusing `null` where the schema does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeNonNull(String.self, forKey: .version)
        baseModel = try c.decode(SDBaseModel.self, forKey: .baseModel)
        dtype = try c.decodeChoice(TaskDType.allCases.map(\.rawValue), forKey: .dtype, nullable: false).flatMap(TaskDType.init)
        unet = try c.decodeNonNull(String.self, forKey: .unet)
        prompt = try c.decode(String.self, forKey: .prompt)
        negativePrompt = try c.decodeNonNull(String.self, forKey: .negativePrompt)
        taskConfig = try c.decode(SDTaskConfig.self, forKey: .taskConfig)
        lora = try c.decodeIfPresent(SDLoraArgs.self, forKey: .lora)
        controlnet = try c.decodeIfPresent(SDControlNetArgs.self, forKey: .controlnet)
        scheduler = try c.decodeNonNull(SDScheduler.self, forKey: .scheduler)
        vae = try c.decodeNonNull(String.self, forKey: .vae)
        refiner = try c.decodeIfPresent(SDRefinerArgs.self, forKey: .refiner)
        textualInversion = try c.decodeNonNull(String.self, forKey: .textualInversion)
    }

    /// Encodes the fields that are set, in the network's order.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(version, forKey: .version)
        try c.encode(baseModel, forKey: .baseModel)
        try c.encodeIfPresent(dtype, forKey: .dtype)
        try c.encodeIfPresent(unet, forKey: .unet)
        try c.encode(prompt, forKey: .prompt)
        try c.encodeIfPresent(negativePrompt, forKey: .negativePrompt)
        try c.encode(taskConfig, forKey: .taskConfig)
        try c.encodeIfPresent(lora, forKey: .lora)
        try c.encodeIfPresent(controlnet, forKey: .controlnet)
        try c.encodeIfPresent(scheduler, forKey: .scheduler)
        try c.encodeIfPresent(vae, forKey: .vae)
        try c.encodeIfPresent(refiner, forKey: .refiner)
        try c.encodeIfPresent(textualInversion, forKey: .textualInversion)
    }

    /// Checks the arguments as the v3.1.0 schema does.
    public func validate() throws(TaskArgsError) {
        let check = FieldCheck(prefix: "")
        try check.oneOf(version, "version", Self.schemaVersions)
        try baseModel.validate(check.nested("base_model"))
        try check.nonEmpty(prompt, "prompt")
        try taskConfig.validate(check.nested("task_config"))
        if let lora {
            try check.nonEmpty(lora.model, "lora.model")
            try check.range(lora.weight, "lora.weight", above: 0, max: 100)
        }
        if let controlnet { try controlnet.validate(check.nested("controlnet")) }
        if let scheduler { try scheduler.validate(check.nested("scheduler")) }
        if let refiner {
            try check.nonEmpty(refiner.model, "refiner.model")
            try check.range(refiner.denoisingCutoff, "refiner.denoising_cutoff", above: 0, max: 100)
            try check.range(refiner.steps, "refiner.steps", above: 0, max: 100)
        }
    }
}

/// The base model: a plain name (HF id or `.safetensors` URL), or a name with a variant such as `fp16`.
public enum SDBaseModel: Codable, Sendable, Hashable {
    /// `"runwayml/stable-diffusion-v1-5"`.
    case name(String)
    /// `{"name": …, "variant": …}`.
    case object(name: String, variant: String?)

    /// The model name.
    public var name: String {
        switch self {
        case .name(let n), .object(let n, _): return n
        }
    }

    /// The variant, if any.
    public var variant: String? {
        if case .object(_, let v) = self { return v }
        return nil
    }

    enum CodingKeys: String, CodingKey { case name, variant }

    /// Decodes either form.
    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self = .name(text)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self = .object(name: try c.decode(String.self, forKey: .name), variant: try c.decodeIfPresent(String.self, forKey: .variant))
    }

    /// Encodes the form it was made with.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .name(let n):
            var c = encoder.singleValueContainer()
            try c.encode(n)
        case .object(let n, let v):
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(n, forKey: .name)
            try c.encodeIfPresent(v, forKey: .variant)
        }
    }

    func validate(_ check: FieldCheck) throws(TaskArgsError) {
        switch self {
        case .name(let n): if n.isEmpty { throw TaskArgsError(field: check.prefix, message: "must not be empty") }
        case .object(let n, _): try check.nonEmpty(n, "name")
        }
    }
}

/// Image size, steps, seed, count, safety checker and guidance of an image task.
public struct SDTaskConfig: Codable, Sendable, Hashable {
    /// Width in pixels (default 512).
    public var imageWidth: Int?
    /// Height in pixels (default 512).
    public var imageHeight: Int?
    /// Denoising steps, 1…100 (default 1).
    public var steps: Int?
    /// Seed, 0 ≤ seed < 2³¹ (default 0).
    public var seed: Int?
    /// Images to generate, 1…10 (default 6).
    public var numImages: Int?
    /// Run the safety checker (default true).
    public var safetyChecker: Bool?
    /// Classifier-free guidance scale, 0…20 (default 5).
    public var cfg: Double?

    /// Creates a task config.
    public init(
        imageWidth: Int? = nil, imageHeight: Int? = nil, steps: Int? = nil, seed: Int? = nil, numImages: Int? = nil,
        safetyChecker: Bool? = nil, cfg: Double? = nil
    ) {
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        self.steps = steps
        self.seed = seed
        self.numImages = numImages
        self.safetyChecker = safetyChecker
        self.cfg = cfg
    }

    /// The worker's default image count.
    public static let defaultNumImages = 6

    enum CodingKeys: String, CodingKey {
        case imageWidth = "image_width"
        case imageHeight = "image_height"
        case steps, seed
        case numImages = "num_images"
        case safetyChecker = "safety_checker"
        case cfg
    }

    /// Decodes; `null` is refused for every field.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageWidth = try c.decodeNonNull(Int.self, forKey: .imageWidth)
        imageHeight = try c.decodeNonNull(Int.self, forKey: .imageHeight)
        steps = try c.decodeNonNull(Int.self, forKey: .steps)
        seed = try c.decodeNonNull(Int.self, forKey: .seed)
        numImages = try c.decodeNonNull(Int.self, forKey: .numImages)
        safetyChecker = try c.decodeNonNull(Bool.self, forKey: .safetyChecker)
        cfg = try c.decodeNonNull(Double.self, forKey: .cfg)
    }

    func validate(_ check: FieldCheck) throws(TaskArgsError) {
        try check.range(steps, "steps", above: 0, max: 100)
        try check.range(seed, "seed", min: 0, below: 2_147_483_648)
        try check.range(numImages, "num_images", above: 0, max: 10)
        try check.range(cfg, "cfg", min: 0, max: 20)
    }
}

/// A LoRA applied to an image task.
public struct SDLoraArgs: Codable, Sendable, Hashable {
    /// HF id or download URL.
    public var model: String
    /// The weights file inside a repository.
    public var weightFileName: String?
    /// Strength in percent, 1…100 (default 100).
    public var weight: Int?

    /// Creates LoRA arguments.
    public init(model: String, weightFileName: String? = nil, weight: Int? = nil) {
        self.model = model
        self.weightFileName = weightFileName
        self.weight = weight
    }

    enum CodingKeys: String, CodingKey {
        case model
        case weightFileName = "weight_file_name"
        case weight
    }

    /// Decodes; optional fields may not be `null`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        weightFileName = try c.decodeNonNull(String.self, forKey: .weightFileName)
        weight = try c.decodeNonNull(Int.self, forKey: .weight)
    }
}

/// An SDXL refiner.
public struct SDRefinerArgs: Codable, Sendable, Hashable {
    /// HF id.
    public var model: String
    /// Variant such as `fp16`.
    public var variant: String?
    /// Where the refiner takes over, in percent 1…100 (default 80).
    public var denoisingCutoff: Int?
    /// Refiner steps, 1…100 (default 20).
    public var steps: Int?

    /// Creates refiner arguments.
    public init(model: String, variant: String? = nil, denoisingCutoff: Int? = nil, steps: Int? = nil) {
        self.model = model
        self.variant = variant
        self.denoisingCutoff = denoisingCutoff
        self.steps = steps
    }

    enum CodingKeys: String, CodingKey {
        case model, variant
        case denoisingCutoff = "denoising_cutoff"
        case steps
    }

    /// Decodes; optional numbers may not be `null`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        variant = try c.decodeIfPresent(String.self, forKey: .variant)
        denoisingCutoff = try c.decodeNonNull(Int.self, forKey: .denoisingCutoff)
        steps = try c.decodeNonNull(Int.self, forKey: .steps)
    }
}

/// A ControlNet condition.
public struct SDControlNetArgs: Codable, Sendable, Hashable {
    /// HF id of the ControlNet.
    public var model: String
    /// Variant such as `fp16`.
    public var variant: String?
    /// The condition image as a `data:image/png;base64,…` URL.
    public var imageDataURL: String?
    /// Strength in percent, 1…100 (default 70).
    public var weight: Int?
    /// How to preprocess the image first.
    public var preprocess: SDPreprocess?

    /// Creates ControlNet arguments.
    public init(model: String, variant: String? = nil, imageDataURL: String? = nil, weight: Int? = nil, preprocess: SDPreprocess? = nil) {
        self.model = model
        self.variant = variant
        self.imageDataURL = imageDataURL
        self.weight = weight
        self.preprocess = preprocess
    }

    enum CodingKeys: String, CodingKey {
        case model, variant
        case imageDataURL = "image_dataurl"
        case weight, preprocess
    }

    /// Decodes; `image_dataurl` and `weight` may not be `null`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        variant = try c.decodeIfPresent(String.self, forKey: .variant)
        imageDataURL = try c.decodeNonNull(String.self, forKey: .imageDataURL)
        weight = try c.decodeNonNull(Int.self, forKey: .weight)
        preprocess = try c.decodeIfPresent(SDPreprocess.self, forKey: .preprocess)
    }

    func validate(_ check: FieldCheck) throws(TaskArgsError) {
        try check.nonEmpty(model, "model")
        try check.range(weight, "weight", above: 0, max: 100)
        if let preprocess { try preprocess.validate(check.nested("preprocess")) }
    }
}

/// The JSON type of one argument of a scheduler or preprocessor.
enum ArgKind: Sendable {
    case int, number, bool, string
    /// An integer percentage 1…100.
    case percent

    func check(_ value: JSONValue, nullable: Bool) -> String? {
        switch (self, value) {
        case (_, .null): return nullable ? nil : "must not be null"
        case (.bool, .bool), (.string, .string): return nil
        case (.number, .number): return nil
        case (.int, .number(let t)), (.percent, .number(let t)):
            guard let d = Double(t), d == d.rounded() else { return "must be an integer" }
            if case .percent = self, !(d > 0 && d <= 100) { return "must be > 0 and ≤ 100, got \(t)" }
            return nil
        case (.int, _), (.percent, _): return "must be an integer"
        case (.number, _): return "must be a number"
        case (.bool, _): return "must be a boolean"
        case (.string, _): return "must be a string"
        }
    }
}

/// Checks a `{method, args}` object's `args` against the argument table of its method.
func checkMethodArgs(_ args: JSONValue?, table: [(String, ArgKind)], nullable: (String) -> Bool, check: FieldCheck)
    throws(TaskArgsError)
{
    guard let args, args != .null else { return }
    guard case .object = args else { throw TaskArgsError(field: check.path("args"), message: "must be an object or null") }
    for (key, kind) in table {
        if let value = args[key], let problem = kind.check(value, nullable: nullable(key)) {
            throw TaskArgsError(field: check.path("args.\(key)"), message: problem)
        }
    }
}

/// A ControlNet preprocessing method and its arguments (`{"method": …, "args": {…}}`).
public struct SDPreprocess: Codable, Sendable, Hashable {
    /// The method name, e.g. `canny`.
    public var method: String
    /// The method's arguments, if it takes any (unknown keys are ignored by the worker).
    public var args: JSONValue?

    /// Creates a preprocess step.
    public init(method: String, args: JSONValue? = nil) {
        self.method = method
        self.args = args
    }

    /// Canny edges with the given thresholds (defaults 100 and 200).
    public static func canny(lowThreshold: Int? = nil, highThreshold: Int? = nil) -> SDPreprocess {
        var members: [JSONMember] = []
        if let lowThreshold { members.append(JSONMember("low_threshold", .integer(lowThreshold))) }
        if let highThreshold { members.append(JSONMember("high_threshold", .integer(highThreshold))) }
        return SDPreprocess(method: "canny", args: .object(members))
    }

    /// Every method of the v3.1.0 schema with the arguments it takes (`dwpose` and `softedge_hed` are
    /// defined by the worker but not accepted by the schema).
    public static let methods: [String: [String]] = argumentTables.mapValues { $0.map(\.0) }

    static let argumentTables: [String: [(String, ArgKind)]] = {
        let pidi: [(String, ArgKind)] = [("apply_filter", .bool)]
        let leres: [(String, ArgKind)] = [("thr_a", .int), ("thr_b", .int)]
        var t: [String: [(String, ArgKind)]] = [
            "canny": [("low_threshold", .int), ("high_threshold", .int)],
            "mlsd": [("thr_v", .percent), ("thr_d", .percent)],
            "scribble_pidinet": pidi, "softedge_pidinet": pidi, "scribble_pidisafe": pidi, "softedge_pidisafe": pidi,
            "depth_zoe": [("gamma_corrected", .bool)],
            "depth_leres": leres, "depth_leres++": leres,
            "shuffle": [("h", .int), ("w", .int), ("f", .int)],
            "mediapipe_face": [("max_faces", .int), ("min_confidence", .percent)],
        ]
        for plain in [
            "scribble_hed", "scribble_hedsafe", "softedge_hedsafe", "depth_midas", "openpose", "openpose_face",
            "openpose_faceonly", "openpose_full", "openpose_hand", "normal_bae", "lineart_coarse", "lineart_realistic",
            "lineart_anime",
        ] { t[plain] = [] }
        return t
    }()

    /// Nullable argument keys (the shuffle sizes); all others must not be null.
    static let nullableArguments: Set<String> = ["h", "w", "f"]

    func validate(_ check: FieldCheck) throws(TaskArgsError) {
        guard let table = Self.argumentTables[method] else {
            throw TaskArgsError(
                field: check.path("method"), message: "must be one of \(Self.argumentTables.keys.sorted().joined(separator: ", ")), got \"\(method)\"")
        }
        // Methods without arguments ignore an `args` key, as the schema does.
        guard !table.isEmpty else { return }
        try checkMethodArgs(args, table: table, nullable: Self.nullableArguments.contains, check: check)
    }
}

/// The denoising scheduler and its arguments (`{"method": …, "args": {…}}`).
public struct SDScheduler: Codable, Sendable, Hashable {
    /// `DPMSolverMultistepScheduler`, `EulerAncestralDiscreteScheduler` or `LCMScheduler`.
    public var method: String
    /// Scheduler arguments passed to diffusers (every one optional and nullable).
    public var args: JSONValue?

    /// Creates a scheduler choice.
    public init(method: String, args: JSONValue? = nil) {
        self.method = method
        self.args = args
    }

    /// Euler ancestral with `timestep_spacing` (the SDXL-Turbo setting is `trailing`).
    public static func eulerAncestral(timestepSpacing: String? = nil) -> SDScheduler {
        SDScheduler(
            method: "EulerAncestralDiscreteScheduler",
            args: timestepSpacing.map { .object([JSONMember("timestep_spacing", .string($0))]) })
    }

    static let common: [(String, ArgKind)] = [
        ("num_train_timesteps", .int), ("beta_start", .number), ("beta_end", .number), ("beta_schedule", .string),
        ("prediction_type", .string), ("timestep_spacing", .string), ("steps_offset", .int), ("rescale_betas_zero_snr", .bool),
    ]

    /// The three schedulers of the v3.1.0 schema with the arguments each takes.
    static let argumentTables: [String: [(String, ArgKind)]] = [
        "DPMSolverMultistepScheduler": common + [
            ("solver_order", .int), ("thresholding", .bool), ("dynamic_thresholding_ratio", .number),
            ("sample_max_value", .number), ("algorithm_type", .string), ("solver_type", .string), ("lower_order_final", .bool),
            ("euler_at_final", .bool), ("use_karras_sigmas", .bool), ("use_lu_lambdas", .bool), ("final_sigmas_type", .string),
            ("lambda_min_clipped", .number), ("variance_type", .string),
        ],
        "EulerAncestralDiscreteScheduler": common,
        "LCMScheduler": common + [
            ("original_inference_steps", .int), ("clip_samples", .int), ("clip_samples_range", .number),
            ("set_alpha_to_one", .bool), ("thresholding", .bool), ("dynamic_thresholding_ratio", .number),
            ("sample_max_value", .number), ("timestep_scaling", .number),
        ],
    ]

    /// Scheduler method names.
    public static let methods: [String] = argumentTables.keys.sorted()

    func validate(_ check: FieldCheck) throws(TaskArgsError) {
        guard let table = Self.argumentTables[method] else {
            throw TaskArgsError(field: check.path("method"), message: "must be one of \(Self.methods.joined(separator: ", ")), got \"\(method)\"")
        }
        try checkMethodArgs(args, table: table, nullable: { _ in true }, check: check)
    }
}
