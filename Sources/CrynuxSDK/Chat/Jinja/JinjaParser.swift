/// Parses tokens into statements, following Jinja2's grammar and operator precedence.
struct JinjaParser {
    let tokens: [JinjaToken]
    var index = 0
    var depth = 0
    /// The deepest nesting of statements and expressions accepted.
    static let maximumDepth = 200

    init(tokens: [JinjaToken]) { self.tokens = tokens }

    var current: JinjaToken { tokens[index] }

    func error(_ message: String, _ token: JinjaToken? = nil) -> ChatTemplateError {
        ChatTemplateError(kind: .syntax, message: message, location: (token ?? current).location)
    }

    mutating func advance() -> JinjaToken {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func isOp(_ op: String) -> Bool { if case .op(op) = current.kind { return true } else { return false } }
    func isName(_ name: String) -> Bool { if case .name(name) = current.kind { return true } else { return false } }

    mutating func expectOp(_ op: String) throws(ChatTemplateError) {
        guard isOp(op) else { throw error("expected '\(op)'") }
        index += 1
    }

    mutating func expectName() throws(ChatTemplateError) -> String {
        guard case .name(let n) = current.kind else { throw error("expected a name") }
        index += 1
        return n
    }

    mutating func expectBlockEnd() throws(ChatTemplateError) {
        guard case .blockEnd = current.kind else { throw error("expected the end of the statement ('%}')") }
        index += 1
    }

    mutating func enter() throws(ChatTemplateError) {
        depth += 1
        if depth > Self.maximumDepth { throw error("template nesting is deeper than \(Self.maximumDepth)") }
    }

    // MARK: Statements

    mutating func parseTemplate() throws(ChatTemplateError) -> [Node] {
        let (nodes, end) = try parseBody(until: [])
        if let end { throw error("unexpected '\(end)'") }
        return nodes
    }

    /// Parses statements until one of `terminators` opens a block; returns the nodes and that keyword
    /// (leaving the tokens after the keyword unconsumed), or nil at end of input.
    mutating func parseBody(until terminators: Set<String>) throws(ChatTemplateError) -> ([Node], String?) {
        try enter()
        defer { depth -= 1 }
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .eof:
                if !terminators.isEmpty {
                    throw error("unexpected end of template; expected \(terminators.sorted().map { "'\($0)'" }.joined(separator: " or "))")
                }
                return (nodes, nil)
            case .data(let text):
                index += 1
                nodes.append(.text(text))
            case .variableBegin:
                index += 1
                let e = try parseTuple()
                guard case .variableEnd = current.kind else { throw error("expected '}}'") }
                index += 1
                nodes.append(.output(e))
            case .blockBegin:
                index += 1
                guard case .name(let keyword) = current.kind else { throw error("expected a statement name") }
                if terminators.contains(keyword) {
                    index += 1
                    return (nodes, keyword)
                }
                index += 1
                nodes.append(try parseStatement(keyword, token))
            default:
                throw error("unexpected token")
            }
        }
    }

    mutating func parseStatement(_ keyword: String, _ token: JinjaToken) throws(ChatTemplateError) -> Node {
        switch keyword {
        case "if": return try parseIf()
        case "for": return try parseFor(token)
        case "set": return try parseSet(token)
        case "macro": return try parseMacro(token)
        case "call": return try parseCallBlock(token)
        case "filter": return try parseFilterBlock()
        case "generation":
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endgeneration"])
            try expectBlockEnd()
            return .filterBlock([], body)
        case "break":
            try expectBlockEnd()
            return .breakLoop(token.location)
        case "continue":
            try expectBlockEnd()
            return .continueLoop(token.location)
        default:
            throw error("unknown statement '\(keyword)'", token)
        }
    }

    mutating func parseIf() throws(ChatTemplateError) -> Node {
        var branches: [(Expr, [Node])] = []
        var condition = try parseTuple(allowConditional: true)
        while true {
            try expectBlockEnd()
            let (body, end) = try parseBody(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch end {
            case "elif":
                condition = try parseTuple(allowConditional: true)
            case "else":
                try expectBlockEnd()
                let (elseBody, _) = try parseBody(until: ["endif"])
                try expectBlockEnd()
                return .ifChain(branches, elseBody)
            default:
                try expectBlockEnd()
                return .ifChain(branches, [])
            }
        }
    }

    mutating func parseFor(_ token: JinjaToken) throws(ChatTemplateError) -> Node {
        let target = try parseAssignTarget(allowAttribute: false)
        guard isName("in") else { throw error("expected 'in'") }
        index += 1
        let iterable = try parseTuple(allowConditional: false, withCondExpr: false)
        var condition: Expr? = nil
        if isName("if") {
            index += 1
            condition = try parseExpression()
        }
        var recursive = false
        if isName("recursive") {
            index += 1
            recursive = true
        }
        try expectBlockEnd()
        let (body, end) = try parseBody(until: ["else", "endfor"])
        var elseBody: [Node] = []
        if end == "else" {
            try expectBlockEnd()
            (elseBody, _) = try parseBody(until: ["endfor"])
        }
        try expectBlockEnd()
        return .forLoop(ForLoop(target: target, iterable: iterable, condition: condition, body: body, elseBody: elseBody, recursive: recursive, location: token.location))
    }

    mutating func parseSet(_ token: JinjaToken) throws(ChatTemplateError) -> Node {
        let target = try parseAssignTarget(allowAttribute: true)
        if isOp("=") {
            index += 1
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target, value, token.location)
        }
        var filters: [(String, Arguments, SourceLocation)] = []
        while isOp("|") {
            index += 1
            filters.append(try parseFilterCall())
        }
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endset"])
        try expectBlockEnd()
        return .setBlock(target, body, filters)
    }

    mutating func parseAssignTarget(allowAttribute: Bool) throws(ChatTemplateError) -> Target {
        var targets: [Target] = []
        var sawComma = false
        let parenthesized = isOp("(")
        if parenthesized { index += 1 }
        while true {
            let name = try expectName()
            if allowAttribute, isOp(".") {
                index += 1
                targets.append(.attribute(name, try expectName()))
            } else {
                targets.append(.name(name))
            }
            if isOp(",") {
                sawComma = true
                index += 1
                if case .name = current.kind { continue }
            }
            break
        }
        if parenthesized { try expectOp(")") }
        return targets.count == 1 && !sawComma ? targets[0] : .tuple(targets)
    }

    mutating func parseParameters() throws(ChatTemplateError) -> [Parameter] {
        var params: [Parameter] = []
        try expectOp("(")
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectName()
            var defaultValue: Expr? = nil
            if isOp("=") {
                index += 1
                defaultValue = try parseExpression()
            }
            params.append(Parameter(name: name, defaultValue: defaultValue))
        }
        index += 1
        return params
    }

    mutating func parseMacro(_ token: JinjaToken) throws(ChatTemplateError) -> Node {
        let name = try expectName()
        let params = try parseParameters()
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endmacro"])
        if case .name = current.kind { index += 1 }
        try expectBlockEnd()
        return .macro(Macro(name: name, parameters: params, body: body, location: token.location))
    }

    mutating func parseCallBlock(_ token: JinjaToken) throws(ChatTemplateError) -> Node {
        var params: [Parameter] = []
        if isOp("(") { params = try parseParameters() }
        let call = try parseExpression()
        guard case .call = call.kind else { throw error("expected a call", token) }
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endcall"])
        try expectBlockEnd()
        return .callBlock(call, params, body, token.location)
    }

    mutating func parseFilterBlock() throws(ChatTemplateError) -> Node {
        var filters: [(String, Arguments, SourceLocation)] = [try parseFilterCall()]
        while isOp("|") {
            index += 1
            filters.append(try parseFilterCall())
        }
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endfilter"])
        try expectBlockEnd()
        return .filterBlock(filters, body)
    }

    // MARK: Expressions

    /// An expression or a bare tuple (`a, b`).
    mutating func parseTuple(allowConditional: Bool = true, withCondExpr: Bool = true) throws(ChatTemplateError) -> Expr {
        let start = current.location
        var items: [Expr] = []
        var sawComma = false
        while true {
            if !items.isEmpty {
                guard isOp(",") else { break }
                index += 1
                sawComma = true
            }
            if case .variableEnd = current.kind { break }
            if case .blockEnd = current.kind { break }
            if isOp(")") || isOp("]") || isOp("}") { break }
            if !items.isEmpty, isName("in") || isName("if") || isName("recursive") { break }
            items.append(withCondExpr ? try parseExpression() : try parseOr())
        }
        if items.isEmpty { throw error("expected an expression") }
        return items.count == 1 && !sawComma ? items[0] : Expr(kind: .tuple(items), location: start)
    }

    mutating func parseExpression() throws(ChatTemplateError) -> Expr {
        try enter()
        defer { depth -= 1 }
        var expr = try parseOr()
        while isName("if") {
            index += 1
            let condition = try parseOr()
            var otherwise: Expr? = nil
            if isName("else") {
                index += 1
                otherwise = try parseExpression()
            }
            expr = Expr(kind: .conditional(condition, expr, otherwise), location: expr.location)
        }
        return expr
    }

    mutating func parseOr() throws(ChatTemplateError) -> Expr {
        var left = try parseAnd()
        while isName("or") {
            index += 1
            left = Expr(kind: .or(left, try parseAnd()), location: left.location)
        }
        return left
    }

    mutating func parseAnd() throws(ChatTemplateError) -> Expr {
        var left = try parseNot()
        while isName("and") {
            index += 1
            left = Expr(kind: .and(left, try parseNot()), location: left.location)
        }
        return left
    }

    mutating func parseNot() throws(ChatTemplateError) -> Expr {
        if isName("not") {
            let loc = current.location
            index += 1
            return Expr(kind: .not(try parseNot()), location: loc)
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws(ChatTemplateError) -> Expr {
        let left = try parseMath1()
        var ops: [(String, Expr)] = []
        while true {
            if case .op(let op) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(op) {
                index += 1
                ops.append((op, try parseMath1()))
            } else if isName("in") {
                index += 1
                ops.append(("in", try parseMath1()))
            } else if isName("not"), index + 1 < tokens.count, case .name("in") = tokens[index + 1].kind {
                index += 2
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? left : Expr(kind: .compare(left, ops), location: left.location)
    }

    mutating func parseMath1() throws(ChatTemplateError) -> Expr {
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            index += 1
            left = Expr(kind: .binary(op, left, try parseConcat()), location: left.location)
        }
        return left
    }

    mutating func parseConcat() throws(ChatTemplateError) -> Expr {
        var items = [try parseMath2()]
        while isOp("~") {
            index += 1
            items.append(try parseMath2())
        }
        return items.count == 1 ? items[0] : Expr(kind: .concat(items), location: items[0].location)
    }

    mutating func parseMath2() throws(ChatTemplateError) -> Expr {
        var left = try parsePow()
        while case .op(let op) = current.kind, ["*", "/", "//", "%"].contains(op) {
            index += 1
            left = Expr(kind: .binary(op, left, try parsePow()), location: left.location)
        }
        return left
    }

    mutating func parsePow() throws(ChatTemplateError) -> Expr {
        var left = try parseUnary()
        while isOp("**") {
            index += 1
            left = Expr(kind: .binary("**", left, try parseUnary()), location: left.location)
        }
        return left
    }

    mutating func parseUnary(withFilter: Bool = true) throws(ChatTemplateError) -> Expr {
        try enter()
        defer { depth -= 1 }
        let loc = current.location
        var node: Expr
        if isOp("-") {
            index += 1
            node = Expr(kind: .unary("-", try parseUnary(withFilter: false)), location: loc)
        } else if isOp("+") {
            index += 1
            node = Expr(kind: .unary("+", try parseUnary(withFilter: false)), location: loc)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    mutating func parsePrimary() throws(ChatTemplateError) -> Expr {
        let token = current
        switch token.kind {
        case .name(let n):
            index += 1
            switch n {
            case "true", "True": return Expr(kind: .literal(.bool(true)), location: token.location)
            case "false", "False": return Expr(kind: .literal(.bool(false)), location: token.location)
            case "none", "None": return Expr(kind: .literal(.none), location: token.location)
            default: return Expr(kind: .name(n), location: token.location)
            }
        case .string(var s):
            index += 1
            while case .string(let more) = current.kind {
                s += more
                index += 1
            }
            return Expr(kind: .literal(.string(s)), location: token.location)
        case .integer(let v):
            index += 1
            return Expr(kind: .literal(.int(v)), location: token.location)
        case .float(let v):
            index += 1
            return Expr(kind: .literal(.float(v)), location: token.location)
        case .op("("):
            index += 1
            if isOp(")") {
                index += 1
                return Expr(kind: .tuple([]), location: token.location)
            }
            let e = try parseTuple()
            try expectOp(")")
            return e
        case .op("["):
            index += 1
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            index += 1
            return Expr(kind: .list(items), location: token.location)
        case .op("{"):
            index += 1
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            index += 1
            return Expr(kind: .dict(pairs), location: token.location)
        default:
            throw error("unexpected token in expression")
        }
    }

    mutating func parsePostfix(_ start: Expr) throws(ChatTemplateError) -> Expr {
        var node = start
        while true {
            let loc = current.location
            if isOp(".") {
                index += 1
                switch current.kind {
                case .name(let n):
                    index += 1
                    node = Expr(kind: .attribute(node, n), location: loc)
                case .integer(let i):
                    index += 1
                    node = Expr(kind: .item(node, Expr(kind: .literal(.int(i)), location: loc)), location: loc)
                default:
                    throw error("expected an attribute name")
                }
            } else if isOp("[") {
                index += 1
                node = try parseSubscript(node, loc)
            } else if isOp("(") {
                node = Expr(kind: .call(node, try parseCallArguments()), location: node.location)
            } else {
                return node
            }
        }
    }

    mutating func parseSubscript(_ target: Expr, _ loc: SourceLocation) throws(ChatTemplateError) -> Expr {
        var parts: [Expr?] = [nil]
        var isSlice = false
        while !isOp("]") {
            if isOp(":") {
                isSlice = true
                index += 1
                parts.append(nil)
                continue
            }
            guard parts[parts.count - 1] == nil else { throw error("expected ']'") }
            parts[parts.count - 1] = try parseExpression()
        }
        index += 1
        if !isSlice {
            guard let key = parts[0] else { throw error("empty subscript") }
            return Expr(kind: .item(target, key), location: loc)
        }
        guard parts.count <= 3 else { throw error("too many ':' in a slice") }
        while parts.count < 3 { parts.append(nil) }
        return Expr(kind: .slice(target, parts[0], parts[1], parts[2]), location: loc)
    }

    mutating func parseCallArguments() throws(ChatTemplateError) -> Arguments {
        try expectOp("(")
        var args = Arguments()
        var first = true
        while !isOp(")") {
            if !first { try expectOp(",") }
            first = false
            if isOp(")") { break }
            if isOp("*") {
                index += 1
                args.star = try parseExpression()
            } else if isOp("**") {
                index += 1
                args.doubleStar = try parseExpression()
            } else if case .name(let n) = current.kind, index + 1 < tokens.count, case .op("=") = tokens[index + 1].kind {
                index += 2
                args.keyword.append((n, try parseExpression()))
            } else {
                args.positional.append(try parseExpression())
            }
        }
        index += 1
        return args
    }

    mutating func parseFilterCall() throws(ChatTemplateError) -> (String, Arguments, SourceLocation) {
        let loc = current.location
        var name = try expectName()
        while isOp(".") {
            index += 1
            name += "." + (try expectName())
        }
        let args = isOp("(") ? try parseCallArguments() : Arguments()
        return (name, args, loc)
    }

    mutating func parseFilterExpr(_ start: Expr) throws(ChatTemplateError) -> Expr {
        var node = start
        while true {
            if isOp("|") {
                index += 1
                let (name, args, loc) = try parseFilterCall()
                node = Expr(kind: .filter(node, name, args), location: loc)
            } else if isName("is") {
                let loc = current.location
                index += 1
                var negated = false
                if isName("not") {
                    index += 1
                    negated = true
                }
                var name = try expectName()
                while isOp(".") {
                    index += 1
                    name += "." + (try expectName())
                }
                var args = Arguments()
                if isOp("(") {
                    args = try parseCallArguments()
                } else if startsBareTestArgument() {
                    var arg = try parsePrimary()
                    arg = try parsePostfix(arg)
                    args.positional = [arg]
                }
                node = Expr(kind: .test(node, name, args, negated: negated), location: loc)
            } else if isOp("(") {
                node = Expr(kind: .call(node, try parseCallArguments()), location: node.location)
            } else {
                return node
            }
        }
    }

    /// Jinja lets a test take one argument without parentheses (`is divisibleby 3`).
    func startsBareTestArgument() -> Bool {
        switch current.kind {
        case .string, .integer, .float: return true
        case .name(let n): return !["else", "or", "and"].contains(n)
        case .op(let op): return op == "[" || op == "{"
        default: return false
        }
    }
}
