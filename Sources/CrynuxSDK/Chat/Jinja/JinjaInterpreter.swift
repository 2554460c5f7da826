import Foundation

/// A variable scope: the template's root, one `for` iteration, or one macro call.
final class JinjaScope: @unchecked Sendable {
    // Scopes belong to one render on one thread; macros capture them only within that render.
    var variables: [String: JinjaValue] = [:]
    let parent: JinjaScope?

    init(parent: JinjaScope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var scope: JinjaScope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

/// The resource limits a render runs under; exceeding one ends the render with a `limit` error.
public struct ChatTemplateLimits: Sendable, Hashable {
    /// Statements, expressions and loop iterations evaluated (default 2,000,000).
    public var maximumSteps: Int
    /// Characters of output, including the output of macros and blocks (default 8 MiB of text).
    public var maximumOutput: Int
    /// Nested macro calls (default 64).
    public var maximumCallDepth: Int
    /// The longest `range()` (default 100,000, as Jinja's sandbox).
    public var maximumRange: Int

    /// Creates limits.
    public init(maximumSteps: Int = 2_000_000, maximumOutput: Int = 8 << 20, maximumCallDepth: Int = 64, maximumRange: Int = 100_000) {
        self.maximumSteps = maximumSteps
        self.maximumOutput = maximumOutput
        self.maximumCallDepth = maximumCallDepth
        self.maximumRange = maximumRange
    }
}

/// How a list of statements ended.
enum Flow {
    case normal, breakLoop, continueLoop
}

/// Walks the parsed template and produces its text.
final class JinjaInterpreter: @unchecked Sendable {
    // One interpreter per render, used on the rendering thread only.
    let limits: ChatTemplateLimits
    let now: DateComponents
    var steps = 0
    var callDepth = 0
    var outputSize = 0
    /// Where the statement being evaluated starts, for errors raised by values.
    var location = SourceLocation(line: 1, column: 1)

    init(limits: ChatTemplateLimits, now: DateComponents) {
        self.limits = limits
        self.now = now
    }

    func fail(_ kind: ChatTemplateError.Kind, _ message: String, at location: SourceLocation? = nil) -> ChatTemplateError {
        ChatTemplateError(kind: kind, message: message, location: location ?? self.location)
    }

    func step() throws(ChatTemplateError) {
        steps += 1
        if steps > limits.maximumSteps {
            throw fail(.limit, "the template ran more than \(limits.maximumSteps) steps")
        }
    }

    /// Refuses a value (string or list) that would be longer than the output limit.
    func checkLength(_ n: Int) throws(ChatTemplateError) {
        if n > limits.maximumOutput {
            throw fail(.limit, "a value would be longer than the limit of \(limits.maximumOutput)")
        }
    }

    func append(_ text: String, to out: inout String) throws(ChatTemplateError) {
        outputSize += text.utf8.count
        if outputSize > limits.maximumOutput {
            throw fail(.limit, "the template produced more than \(limits.maximumOutput) bytes")
        }
        out += text
    }

    // MARK: Statements

    func render(_ nodes: [Node], _ scope: JinjaScope, into out: inout String) throws(ChatTemplateError) -> Flow {
        for node in nodes {
            try step()
            switch node {
            case .text(let text):
                try append(text, to: &out)
            case .output(let e):
                location = e.location
                let v = try eval(e, scope)
                try append(v.str, to: &out)
            case .ifChain(let branches, let otherwise):
                var taken = false
                for (condition, body) in branches {
                    location = condition.location
                    if try eval(condition, scope).truthy {
                        taken = true
                        let flow = try render(body, scope, into: &out)
                        if flow != .normal { return flow }
                        break
                    }
                }
                if !taken {
                    let flow = try render(otherwise, scope, into: &out)
                    if flow != .normal { return flow }
                }
            case .forLoop(let loop):
                try renderFor(loop, scope, into: &out)
            case .set(let target, let e, let loc):
                location = loc
                try assign(target, try eval(e, scope), scope)
            case .setBlock(let target, let body, let filters):
                var text = ""
                _ = try render(body, scope, into: &text)
                var value = JinjaValue.markup(text)
                for (name, args, loc) in filters { value = try applyFilter(name, value, args, scope, loc) }
                try assign(target, value, scope)
            case .macro(let macro):
                scope.variables[macro.name] = .function(makeMacro(macro, closure: scope))
            case .callBlock(let call, let params, let body, let loc):
                location = loc
                guard case .call(let callee, var args) = call.kind else { break }
                let caller = JinjaFunction(name: "caller") { positional, keyword, interpreter throws(ChatTemplateError) in
                    let callScope = JinjaScope(parent: scope)
                    try interpreter.bind(params, positional, keyword, into: callScope, name: "caller")
                    var text = ""
                    _ = try interpreter.render(body, callScope, into: &text)
                    return .markup(text)
                }
                args.keyword.append(("caller", Expr(kind: .literal(.function(caller)), location: loc)))
                let v = try eval(Expr(kind: .call(callee, args), location: loc), scope)
                try append(v.str, to: &out)
            case .filterBlock(let filters, let body):
                var text = ""
                _ = try render(body, scope, into: &text)
                var value = JinjaValue.markup(text)
                for (name, args, loc) in filters { value = try applyFilter(name, value, args, scope, loc) }
                try append(value.str, to: &out)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    func renderFor(_ loop: ForLoop, _ scope: JinjaScope, into out: inout String) throws(ChatTemplateError) {
        location = loop.location
        if loop.recursive { throw fail(.syntax, "recursive loops are not supported", at: loop.location) }
        let iterable = try eval(loop.iterable, scope)
        guard var items = try iterate(iterable) else {
            throw fail(.type, "'\(iterable.typeName)' object is not iterable", at: loop.iterable.location)
        }
        if let condition = loop.condition {
            var kept: [JinjaValue] = []
            for item in items {
                try step()
                let s = JinjaScope(parent: scope)
                try assign(loop.target, item, s)
                if try eval(condition, s).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try render(loop.elseBody, scope, into: &out)
            return
        }
        for (i, item) in items.enumerated() {
            try step()
            let s = JinjaScope(parent: scope)
            try assign(loop.target, item, s)
            s.variables["loop"] = .loop(JinjaLoop(items: items, index: i))
            let flow = try render(loop.body, s, into: &out)
            if flow == .breakLoop { break }
        }
    }

    func assign(_ target: Target, _ value: JinjaValue, _ scope: JinjaScope) throws(ChatTemplateError) {
        switch target {
        case .name(let name):
            scope.variables[name] = value
        case .attribute(let name, let attribute):
            guard case .namespace(let ns)? = scope.lookup(name) else {
                throw fail(.type, "cannot assign attribute on non-namespace object")
            }
            ns.attributes.set(.string(attribute), value)
        case .tuple(let targets):
            guard let items = try iterate(value), value.stringValue == nil || targets.count == items.count else {
                throw fail(.type, "cannot unpack non-iterable \(value.typeName) object")
            }
            guard items.count == targets.count else {
                throw fail(.type, items.count > targets.count
                    ? "too many values to unpack (expected \(targets.count))"
                    : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope) }
        }
    }

    func makeMacro(_ macro: Macro, closure: JinjaScope) -> JinjaFunction {
        JinjaFunction(name: macro.name) { positional, keyword, interpreter throws(ChatTemplateError) in
            interpreter.callDepth += 1
            defer { interpreter.callDepth -= 1 }
            if interpreter.callDepth > interpreter.limits.maximumCallDepth {
                throw interpreter.fail(.limit, "macro calls nested deeper than \(interpreter.limits.maximumCallDepth)", at: macro.location)
            }
            let scope = JinjaScope(parent: closure)
            try interpreter.bind(macro.parameters, positional, keyword, into: scope, name: macro.name)
            var text = ""
            _ = try interpreter.render(macro.body, scope, into: &text)
            return .markup(text)
        }
    }

    /// Binds call arguments to parameters as Jinja macros do (extras go to `varargs` and `kwargs`).
    func bind(_ params: [Parameter], _ positional: [JinjaValue], _ keyword: [(String, JinjaValue)], into scope: JinjaScope, name: String)
        throws(ChatTemplateError)
    {
        var kwargs = JinjaDict()
        var given: [String: JinjaValue] = [:]
        for (k, v) in keyword {
            if k == "caller" {
                scope.variables["caller"] = v
            } else if params.contains(where: { $0.name == k }) {
                given[k] = v
            } else {
                kwargs.set(.string(k), v)
            }
        }
        for (i, p) in params.enumerated() {
            if i < positional.count {
                if given[p.name] != nil { throw fail(.type, "macro '\(name)' got multiple values for argument '\(p.name)'") }
                scope.variables[p.name] = positional[i]
            } else if let v = given[p.name] {
                scope.variables[p.name] = v
            } else if let d = p.defaultValue {
                scope.variables[p.name] = try eval(d, scope)
            } else {
                scope.variables[p.name] = .undefined("parameter '\(p.name)' was not provided")
            }
        }
        scope.variables["varargs"] = .tuple(positional.count > params.count ? Array(positional[params.count...]) : [])
        scope.variables["kwargs"] = .dict(kwargs)
    }

    // MARK: Expressions

    /// Python's `iter()` run to the end: the items of an iterable, or nil if it is not iterable. A generator
    /// is used up by this, and raises here an error met while producing its items.
    func iterate(_ v: JinjaValue) throws(ChatTemplateError) -> [JinjaValue]? {
        if case .iterator(let it) = v { return try it.drain() }
        return v.iterationItems
    }

    func undefinedError(_ v: JinjaValue) -> ChatTemplateError {
        if case .undefined(let hint) = v { return fail(.undefined, hint.message) }
        return fail(.undefined, "undefined value")
    }

    func eval(_ e: Expr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        try step()
        switch e.kind {
        case .literal(let v):
            return v
        case .name(let name):
            return scope.lookup(name) ?? .undefinedName(name)
        case .list(let items):
            var out: [JinjaValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try eval(item, scope)) }
            return .list(out)
        case .tuple(let items):
            var out: [JinjaValue] = []
            for item in items { out.append(try eval(item, scope)) }
            return .tuple(out)
        case .dict(let pairs):
            var d = JinjaDict()
            for (k, v) in pairs { d.set(try eval(k, scope), try eval(v, scope)) }
            return .dict(d)
        case .attribute(let target, let name):
            let obj = try eval(target, scope)
            location = e.location
            return try getAttribute(obj, name)
        case .item(let target, let key):
            let obj = try eval(target, scope)
            let k = try eval(key, scope)
            location = e.location
            return try getItem(obj, k)
        case .slice(let target, let a, let b, let c):
            let obj = try eval(target, scope)
            let start = try a.map { (x: Expr) throws(ChatTemplateError) in try eval(x, scope) }
            let stop = try b.map { (x: Expr) throws(ChatTemplateError) in try eval(x, scope) }
            let stride = try c.map { (x: Expr) throws(ChatTemplateError) in try eval(x, scope) }
            location = e.location
            return try slice(obj, start, stop, stride)
        case .call(let callee, let args):
            let f = try eval(callee, scope)
            let (positional, keyword) = try evalArguments(args, scope)
            location = e.location
            return try call(f, positional, keyword)
        case .filter(let target, let name, let args):
            let v = try eval(target, scope)
            return try applyFilter(name, v, args, scope, e.location)
        case .test(let target, let name, let args, let negated):
            let v = try eval(target, scope)
            let (positional, keyword) = try evalArguments(args, scope)
            location = e.location
            let result = try runTest(name, v, positional, keyword)
            return .bool(negated ? !result : result)
        case .unary(let op, let operand):
            let v = try eval(operand, scope)
            location = e.location
            return try unary(op, v)
        case .binary(let op, let l, let r):
            let a = try eval(l, scope)
            let b = try eval(r, scope)
            location = e.location
            return try binary(op, a, b)
        case .and(let l, let r):
            let a = try eval(l, scope)
            return a.truthy ? try eval(r, scope) : a
        case .or(let l, let r):
            let a = try eval(l, scope)
            return a.truthy ? a : try eval(r, scope)
        case .not(let operand):
            return .bool(!(try eval(operand, scope)).truthy)
        case .compare(let first, let ops):
            var left = try eval(first, scope)
            for (op, rightExpr) in ops {
                let right = try eval(rightExpr, scope)
                location = e.location
                if !(try compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let condition, let then, let otherwise):
            if try eval(condition, scope).truthy { return try eval(then, scope) }
            if let otherwise { return try eval(otherwise, scope) }
            return .undefined(.message("the inline if-expression evaluated to false and no else section was defined."))
        case .concat(let items):
            var s = ""
            for item in items {
                s += try eval(item, scope).str
                try checkLength(s.utf8.count)
            }
            return .string(s)
        }
    }

    func evalArguments(_ args: Arguments, _ scope: JinjaScope) throws(ChatTemplateError) -> ([JinjaValue], [(String, JinjaValue)]) {
        var positional: [JinjaValue] = []
        for a in args.positional { positional.append(try eval(a, scope)) }
        if let star = args.star {
            let v = try eval(star, scope)
            guard let items = try iterate(v) else { throw fail(.type, "argument after * must be an iterable") }
            positional += items
        }
        var keyword: [(String, JinjaValue)] = []
        for (k, a) in args.keyword { keyword.append((k, try eval(a, scope))) }
        if let ds = args.doubleStar {
            guard case .dict(let d) = try eval(ds, scope) else { throw fail(.type, "argument after ** must be a mapping") }
            for entry in d.entries { keyword.append((entry.key.str, entry.value)) }
        }
        return (positional, keyword)
    }

    func call(_ f: JinjaValue, _ positional: [JinjaValue], _ keyword: [(String, JinjaValue)]) throws(ChatTemplateError) -> JinjaValue {
        switch f {
        case .function(let fn): return try fn.call(positional, keyword, self)
        case .undefined: throw undefinedError(f)
        default: throw fail(.type, "'\(f.typeName)' object is not callable")
        }
    }

    /// `obj.name`: a method or attribute first, then an item, else undefined (Jinja's `getattr`).
    func getAttribute(_ obj: JinjaValue, _ name: String) throws(ChatTemplateError) -> JinjaValue {
        if case .undefined = obj { throw undefinedError(obj) }
        if let method = JinjaMethods.method(obj, name) { return method }
        switch obj {
        case .dict(let d):
            if let v = d.get(name) { return v }
        case .namespace(let ns):
            if let v = ns.attributes.get(name) { return v }
        case .loop(let loop):
            if let v = loop.attribute(name) { return v }
        case .iterator(let it):
            if let v = it.attribute(name) { return v }
        default: break
        }
        return .undefined(.attribute(obj.objectTypeRepr, name))
    }

    /// `obj[key]`: an item first, then an attribute for string keys (Jinja's `getitem`).
    func getItem(_ obj: JinjaValue, _ key: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        if case .undefined = obj { throw undefinedError(obj) }
        switch obj {
        case .dict(let d):
            if let v = d.get(key) { return v }
        case .list(let a), .tuple(let a):
            if let i = key.integer {
                let j = i < 0 ? a.count + i : i
                if j >= 0 && j < a.count { return a[j] }
            }
        case .string(let s), .markup(let s):
            if let i = key.integer {
                let scalars = Array(s.unicodeScalars)
                let j = i < 0 ? scalars.count + i : i
                if j >= 0 && j < scalars.count { return .string(String(scalars[j])) }
            }
        case .namespace(let ns):
            if let k = key.stringValue, let v = ns.attributes.get(k) { return v }
        case .loop(let loop):
            if let k = key.stringValue, let v = loop.attribute(k) { return v }
        case .iterator(let it):
            if case .range = it.kind, let i = key.integer {
                let j = i < 0 ? it.items.count + i : i
                if j >= 0 && j < it.items.count { return it.items[j] }
            }
            if let k = key.stringValue, let v = it.attribute(k) { return v }
        default: break
        }
        if let name = key.stringValue {
            if let method = JinjaMethods.method(obj, name) { return method }
            return .undefined(.attribute(obj.objectTypeRepr, name))
        }
        return .undefined(.element(obj.objectTypeRepr, key.repr))
    }

    func slice(_ obj: JinjaValue, _ a: JinjaValue?, _ b: JinjaValue?, _ c: JinjaValue?) throws(ChatTemplateError) -> JinjaValue {
        func bound(_ v: JinjaValue?) throws(ChatTemplateError) -> Int? {
            guard let v, !(v.isNone) else { return nil }
            guard let i = v.integer else { throw fail(.type, "slice indices must be integers or None") }
            return i
        }
        let stepValue = try bound(c) ?? 1
        guard stepValue != 0 else { throw fail(.type, "slice step cannot be zero") }
        func indices(_ count: Int) throws(ChatTemplateError) -> [Int] {
            var start = try bound(a)
            var stop = try bound(b)
            if stepValue > 0 {
                var s = start ?? 0
                if s < 0 { s = max(0, s + count) }
                s = min(s, count)
                var e = stop ?? count
                if e < 0 { e = max(0, e + count) }
                e = min(e, count)
                start = s
                stop = e
                return s < e ? Array(Swift.stride(from: s, to: e, by: stepValue)) : []
            } else {
                var s = start ?? count - 1
                if s < 0 { s += count }
                s = min(s, count - 1)
                var e = stop ?? -1
                if let st = stop, st < 0 { e = max(-1, st + count) }
                if stop != nil { e = min(e, count - 1) }
                return s > e ? Array(Swift.stride(from: s, to: e, by: stepValue)) : []
            }
        }
        switch obj {
        case .list(let items): return .list(try indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(try indices(items.count).map { items[$0] })
        case .iterator(let it) where it.isSized && it.typeName == "range":
            return .list(try indices(it.items.count).map { it.items[$0] })
        case .string(let s), .markup(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined: throw undefinedError(obj)
        default: throw fail(.type, "'\(obj.typeName)' object is not subscriptable")
        }
    }

    func applyFilter(_ name: String, _ value: JinjaValue, _ args: Arguments, _ scope: JinjaScope, _ loc: SourceLocation)
        throws(ChatTemplateError) -> JinjaValue
    {
        let (positional, keyword) = try evalArguments(args, scope)
        location = loc
        return try JinjaFilters.apply(name, value, positional, keyword, self)
    }

    func runTest(_ name: String, _ value: JinjaValue, _ positional: [JinjaValue], _ keyword: [(String, JinjaValue)]) throws(ChatTemplateError) -> Bool {
        try JinjaFilters.test(name, value, positional + keyword.map(\.1), self)
    }
}

extension JinjaValue {
    var isNone: Bool { if case .none = self { return true } else { return false } }
}
