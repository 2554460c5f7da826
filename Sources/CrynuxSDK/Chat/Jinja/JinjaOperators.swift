import Foundation

/// The operators of expressions: unary and binary arithmetic and concatenation, comparisons, membership.
extension JinjaInterpreter {
    func unary(_ op: String, _ v: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        switch v {
        case .int(let i):
            guard op == "-" else { return .int(i) }
            let (r, overflow) = (0).subtractingReportingOverflow(i)
            if overflow { throw fail(.limit, "integer overflow") }
            return .int(r)
        case .bool(let b): return .int(op == "-" ? (b ? -1 : 0) : (b ? 1 : 0))
        case .float(let d): return .float(op == "-" ? -d : d)
        case .undefined: throw undefinedError(v)
        default: throw fail(.type, "bad operand type for unary \(op): '\(v.typeName)'")
        }
    }

    func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        if case .undefined = a { throw undefinedError(a) }
        if case .undefined = b { throw undefinedError(b) }
        func unsupported() -> ChatTemplateError {
            fail(.type, "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
        }
        switch op {
        case "+":
            switch (a, b) {
            case (.string(let x), .string(let y)), (.markup(let x), .string(let y)), (.string(let x), .markup(let y)), (.markup(let x), .markup(let y)):
                try checkLength(x.utf8.count + y.utf8.count)
                return .string(x + y)
            case (.list(let x), .list(let y)):
                try checkLength(x.count + y.count)
                return .list(x + y)
            case (.tuple(let x), .tuple(let y)): return .tuple(x + y)
            case (.string, _), (.markup, _): throw fail(.type, "can only concatenate str (not \"\(b.typeName)\") to str")
            case (.list, _): throw fail(.type, "can only concatenate list (not \"\(b.typeName)\") to list")
            case (.tuple, _): throw fail(.type, "can only concatenate tuple (not \"\(b.typeName)\") to tuple")
            default: break
            }
        case "*":
            func repeated(_ size: Int, _ times: Int) throws(ChatTemplateError) -> Int {
                let (total, overflow) = size.multipliedReportingOverflow(by: max(0, times))
                if overflow { throw fail(.limit, "a value would be longer than the limit of \(limits.maximumOutput)") }
                try checkLength(total)
                return max(0, times)
            }
            switch (a, b) {
            case (.string(let s), _) where b.integer != nil: return .string(String(repeating: s, count: try repeated(s.utf8.count, b.integer!)))
            case (_, .string(let s)) where a.integer != nil: return .string(String(repeating: s, count: try repeated(s.utf8.count, a.integer!)))
            case (.list(let x), _) where b.integer != nil:
                return .list(Array([[JinjaValue]](repeating: x, count: try repeated(x.count, b.integer!)).joined()))
            default: break
            }
        case "%":
            if let s = a.stringValue { return .string(try JinjaFilters.printf(s, b, self)) }
        default: break
        }
        if let x = a.integer, let y = b.integer {
            switch op {
            case "+": let (r, o) = x.addingReportingOverflow(y); if !o { return .int(r) }
            case "-": let (r, o) = x.subtractingReportingOverflow(y); if !o { return .int(r) }
            case "*": let (r, o) = x.multipliedReportingOverflow(by: y); if !o { return .int(r) }
            case "/":
                guard y != 0 else { throw fail(.type, "division by zero") }
                return .float(Double(x) / Double(y))
            case "//":
                guard y != 0 else { throw fail(.type, "integer division or modulo by zero") }
                let (q, overflow) = x.dividedReportingOverflow(by: y)
                if overflow { throw fail(.limit, "integer overflow") }
                return .int((x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q)
            case "%":
                guard y != 0 else { throw fail(.type, "integer modulo by zero") }
                let (r, _) = x.remainderReportingOverflow(dividingBy: y)  // Int.min % -1 is 0
                return .int(r != 0 && (r < 0) != (y < 0) ? r + y : r)
            case "**":
                if y >= 0 {
                    if x == 0 { return .int(y == 0 ? 1 : 0) }
                    if x == 1 { return .int(1) }
                    if x == -1 { return .int(y % 2 == 0 ? 1 : -1) }
                    var result = 1
                    for _ in 0..<y {  // |x| ≥ 2, so this overflows within 63 rounds
                        let (r, o) = result.multipliedReportingOverflow(by: x)
                        if o { throw fail(.limit, "integer result too large") }
                        result = r
                    }
                    return .int(result)
                }
                return .float(pow(Double(x), Double(y)))
            default: break
            }
            throw fail(.limit, "integer overflow")
        }
        if let x = a.numeric, let y = b.numeric {
            switch op {
            case "+": return .float(x + y)
            case "-": return .float(x - y)
            case "*": return .float(x * y)
            case "/":
                guard y != 0 else { throw fail(.type, "float division by zero") }
                return .float(x / y)
            case "//":
                guard y != 0 else { throw fail(.type, "float floor division by zero") }
                return .float((x / y).rounded(.down))
            case "%":
                guard y != 0 else { throw fail(.type, "float modulo") }
                let r = x.truncatingRemainder(dividingBy: y)
                return .float(r != 0 && (r < 0) != (y < 0) ? r + y : r)
            case "**": return .float(pow(x, y))
            default: break
            }
        }
        throw unsupported()
    }

    func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws(ChatTemplateError) -> Bool {
        switch op {
        case "==": return JinjaValue.equal(a, b)
        case "!=": return !JinjaValue.equal(a, b)
        case "in": return try contains(b, a)
        case "notin": return !(try contains(b, a))
        default: break
        }
        if case .undefined = a { throw undefinedError(a) }
        if case .undefined = b { throw undefinedError(b) }
        let order: Int
        if let x = a.numeric, let y = b.numeric {
            order = x < y ? -1 : x > y ? 1 : 0
        } else if let x = a.stringValue, let y = b.stringValue {
            order = x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) ? -1 : x.unicodeScalars.elementsEqual(y.unicodeScalars) ? 0 : 1
        } else if case .list(let x) = a, case .list(let y) = b {
            order = try compareSequences(x, y)
        } else if case .tuple(let x) = a, case .tuple(let y) = b {
            order = try compareSequences(x, y)
        } else {
            throw fail(.type, "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
        }
        switch op {
        case "<": return order < 0
        case "<=": return order <= 0
        case ">": return order > 0
        default: return order >= 0
        }
    }

    func compareSequences(_ x: [JinjaValue], _ y: [JinjaValue]) throws(ChatTemplateError) -> Int {
        for (p, q) in zip(x, y) where !JinjaValue.equal(p, q) {
            return try compare("<", p, q) ? -1 : 1
        }
        return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
    }

    func contains(_ container: JinjaValue, _ item: JinjaValue) throws(ChatTemplateError) -> Bool {
        switch container {
        case .string(let s), .markup(let s):
            guard let needle = item.stringValue else {
                throw fail(.type, "'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return UTF8Search.contains(needle, in: s)
        case .list(let a), .tuple(let a): return a.contains { JinjaValue.equal($0, item) }
        case .dict(let d): return d.get(item) != nil
        case .undefined: return false
        case .namespace(let ns): return ns.attributes.get(item) != nil
        case .iterator(let it): return try it.contains(item)
        default: throw fail(.type, "argument of type '\(container.typeName)' is not iterable")
        }
    }
}
