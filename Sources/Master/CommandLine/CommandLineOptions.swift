/// What `sluice` was asked to do, parsed from its arguments the way nginx parses its own
/// (`ngx_get_options`): single-letter options, a value either attached (`-p/srv`) or in the next
/// argument (`-p /srv`), flags combinable (`-tq` style is not needed, but `-t -p x` is).
///
/// Pure: no file system, no process state; the caller resolves paths.
package struct CommandLineOptions: Equatable, Sendable {
    /// The one thing this invocation does.
    package enum Action: Equatable, Sendable {
        /// Run the master in the foreground.
        case run
        /// `-t`: validate the configuration and exit.
        case testConfig
        /// `-s VERB`: signal the running master.
        case signal(SignalVerb)
        /// `-v`, `-V`, `--version`.
        case version
        /// `-h`, `-?`, `--help`.
        case help
    }

    /// nginx's `-s` verbs and the signal each sends to the master.
    package enum SignalVerb: String, CaseIterable, Sendable {
        case reload, quit, stop, reopen
    }

    /// Default: `.run`.
    package var action: Action = .run
    /// `-p PREFIX` as given (maybe relative); nil = the current directory.
    package var prefix: String?
    /// `-c FILE` as given (maybe relative); nil = `PREFIX/conf/config.yaml`.
    package var configPath: String?

    package init(action: Action = .run, prefix: String? = nil, configPath: String? = nil) {
        self.action = action; self.prefix = prefix; self.configPath = configPath
    }

    /// Parses the arguments after the program name. Help wins over version, version over `-t`,
    /// `-t` over `-s` (nginx's order: the informational ones never touch a running server).
    package static func parse(_ arguments: [String]) throws(CommandLineError) -> CommandLineOptions {
        var options = CommandLineOptions()
        var wantsHelp = false, wantsVersion = false, wantsTest = false
        var verb: SignalVerb?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "--help": wantsHelp = true; continue
            case "--version": wantsVersion = true; continue
            default: break
            }
            guard argument.hasPrefix("-"), argument.count > 1, !argument.hasPrefix("--") else {
                throw .invalidOption(argument)
            }
            var letters = Substring(argument.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                switch letter {
                case "h", "?": wantsHelp = true
                case "v", "V": wantsVersion = true
                case "t": wantsTest = true
                case "p", "c", "s":
                    // The rest of this argument is the value, else the next argument is.
                    let value: String
                    if !letters.isEmpty {
                        value = String(letters)
                        letters = ""
                    } else if index < arguments.count {
                        value = arguments[index]
                        index += 1
                    } else {
                        throw .missingValue(option: "-\(letter)")
                    }
                    switch letter {
                    case "p": options.prefix = value
                    case "c": options.configPath = value
                    default:
                        guard let parsed = SignalVerb(rawValue: value) else { throw .invalidSignal(value) }
                        verb = parsed
                    }
                default:
                    throw .invalidOption("-\(letter)")
                }
            }
        }
        if wantsHelp {
            options.action = .help
        } else if wantsVersion {
            options.action = .version
        } else if wantsTest {
            options.action = .testConfig
        } else if let verb {
            options.action = .signal(verb)
        }
        return options
    }

    /// The text of `sluice -h`, also printed after a usage error.
    package static let usage = """
        Usage: sluice [-?hvt] [-s signal] [-p prefix] [-c filename]

        Options:
          -?,-h,--help     : this help
          -v,--version     : show version and exit
          -t               : test configuration and exit
          -s signal        : send signal to a master process: stop, quit, reopen, reload
          -p prefix        : set prefix path (default: ../sluice next to the binary when it holds
                             conf/config.yaml, as `make install` lays it out; else the current directory)
          -c filename      : set configuration file (default: PREFIX/conf/config.yaml)

        """
}

/// A command line `sluice` cannot act on; the description is nginx's wording.
package enum CommandLineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An argument that is no option, or an unknown letter.
    case invalidOption(String)
    /// `-p`, `-c` or `-s` last, without its value.
    case missingValue(option: String)
    /// `-s` with a verb other than stop, quit, reopen, reload.
    case invalidSignal(String)

    package var description: String {
        switch self {
        case .invalidOption(let option): "invalid option: \"\(option)\""
        case .missingValue(let option): "option \"\(option)\" requires a parameter"
        case .invalidSignal(let verb): "invalid option: \"-s \(verb)\""
        }
    }
}

extension CommandLineOptions.SignalVerb {
    /// nginx's mapping: reload = SIGHUP, quit = SIGQUIT, stop = SIGTERM, reopen = SIGUSR1.
    package var signalNumber: Int32 {
        switch self {
        case .reload: 1
        case .quit: 3
        case .stop: 15
        case .reopen: 10
        }
    }
}
