/// An expression of the template language, with where it starts in the source.
struct Expr: Sendable {
    indirect enum Kind: Sendable {
        case literal(JinjaValue)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        case attribute(Expr, String)
        case item(Expr, Expr)
        case slice(Expr, Expr?, Expr?, Expr?)
        case call(Expr, Arguments)
        case filter(Expr, String, Arguments)
        case test(Expr, String, Arguments, negated: Bool)
        case unary(String, Expr)
        case binary(String, Expr, Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case not(Expr)
        case compare(Expr, [(String, Expr)])
        case conditional(Expr, Expr, Expr?)
        case concat([Expr])
    }

    var kind: Kind
    var location: SourceLocation
}

/// Call arguments: positional, keyword, and `*args` / `**kwargs`.
struct Arguments: Sendable {
    var positional: [Expr] = []
    var keyword: [(String, Expr)] = []
    var star: Expr? = nil
    var doubleStar: Expr? = nil
}

/// An assignment target: a name, `ns.attr`, or a tuple of targets.
indirect enum Target: Sendable {
    case name(String)
    case attribute(String, String)
    case tuple([Target])
}

/// A macro or call-block parameter with its default.
struct Parameter: Sendable {
    var name: String
    var defaultValue: Expr?
}

/// A template statement.
indirect enum Node: Sendable {
    case text(String)
    case output(Expr)
    case ifChain([(Expr, [Node])], [Node])
    case forLoop(ForLoop)
    case set(Target, Expr, SourceLocation)
    case setBlock(Target, [Node], [(String, Arguments, SourceLocation)])
    case macro(Macro)
    case callBlock(Expr, [Parameter], [Node], SourceLocation)
    case filterBlock([(String, Arguments, SourceLocation)], [Node])
    case breakLoop(SourceLocation)
    case continueLoop(SourceLocation)
}

/// A `for` loop.
struct ForLoop: Sendable {
    var target: Target
    var iterable: Expr
    var condition: Expr?
    var body: [Node]
    var elseBody: [Node]
    var recursive: Bool
    var location: SourceLocation
}

/// A macro definition.
struct Macro: Sendable {
    var name: String
    var parameters: [Parameter]
    var body: [Node]
    var location: SourceLocation
}
