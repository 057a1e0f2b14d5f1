import PlasmaClient

/// Durations as people type them: `5s`, `250ms`, `1m`, `2.5s`, `1h`, or a plain number of seconds.
enum DurationArgument {
    static let forms = "a number of seconds or a number with a unit, e.g. 5, 2.5s, 250ms, 1m, 1h"

    struct ParseError: Error, CustomStringConvertible {
        let text: String
        var description: String { "invalid duration '\(text)': use \(DurationArgument.forms)" }
    }

    private static let units: [(suffix: String, nanoseconds: Double)] = [
        ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    static func parse(_ text: String) throws(ParseError) -> Duration {
        let lowered = text.lowercased()
        var number = Substring(lowered)
        var scale = 1e9
        if let unit = units.first(where: { lowered.hasSuffix($0.suffix) }) {
            number = number.dropLast(unit.suffix.count)
            scale = unit.nanoseconds
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              number.filter({ $0 == "." }).count <= 1, number != ".",
              let value = Double(number)
        else { throw ParseError(text: text) }
        let nanoseconds = (value * scale).rounded()
        guard nanoseconds.isFinite, nanoseconds < 1e18 else { throw ParseError(text: text) }
        return .nanoseconds(Int64(nanoseconds))
    }

    /// `--wait-for-space` values: a duration, or `forever` (what the bare flag means).
    static func parseWait(_ text: String) throws(ParseError) -> Wait {
        if text.lowercased() == "forever" { return .forever }
        return .timeout(try parse(text))
    }
}

/// Rewrites of the command line before ArgumentParser sees it.
enum CommandLineRewrite {
    /// Options every subcommand takes, which may also come before the subcommand's name.
    static let globalOptions = ["--socket", "-s", "--trust-store-uid"]

    /// The arguments as ArgumentParser can parse them: the global options (`--socket`,
    /// `--trust-store-uid`) may come before the subcommand (`plasma --socket P list`), so they are moved
    /// after the subcommand's name; and the optional value of put's `--wait-for-space` is made explicit.
    static func normalizing(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if globalOptions.contains(argument), index + 1 < arguments.count {
                leading += arguments[index...index + 1]
                index += 2
            } else if argument.hasPrefix("--socket=") || argument.hasPrefix("--trust-store-uid=") {
                leading.append(argument)
                index += 1
            } else {
                break
            }
        }
        var rest = Array(arguments[index...])
        if !leading.isEmpty, let command = rest.first, !command.hasPrefix("-") {
            rest.insert(contentsOf: leading, at: 1)
        } else {
            rest = leading + rest
        }
        return rest.first == "put" ? normalizingOptionalValues(rest) : rest
    }

    /// `--wait-for-space` takes an optional value, which ArgumentParser options can't. Before parsing,
    /// the bare flag becomes `--wait-for-space=forever`, or `--wait-for-space=NEXT` when the next word
    /// looks like a duration and isn't the last argument (the last one is the file).
    static func normalizingOptionalValues(_ arguments: [String]) -> [String] {
        let flag = "--wait-for-space"
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                result += arguments[index...]
                break
            }
            if argument == flag {
                let next = index + 1
                if next < arguments.count - 1, (try? DurationArgument.parseWait(arguments[next])) != nil {
                    result.append("\(flag)=\(arguments[next])")
                    index += 2
                    continue
                }
                result.append("\(flag)=forever")
            } else {
                result.append(argument)
            }
            index += 1
        }
        return result
    }
}
