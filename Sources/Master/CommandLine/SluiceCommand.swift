#if canImport(Glibc)
import Glibc
#endif
import Shared
import Worker

/// The `sluice` executable's entry: parses the command line and runs what it asks for, nginx's
/// `main` in `nginx.c` (`-v`, `-t`, `-s`, or the master in the foreground).
enum SluiceCommand {
    /// Runs and returns the exit status; the master itself never returns.
    static func main(_ arguments: [String]) -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions.parse(Array(arguments.dropFirst()))
        } catch {
            Console.log(.emerg, error.description)
            Console.write(2, CommandLineOptions.usage)
            return 1
        }
        let cwd = Paths.currentDirectory()
        let prefix = options.prefix.map { Paths.absolute($0, relativeTo: cwd) } ?? Paths.defaultPrefix()
        // Relative to where the command was typed, as a shell user expects (nginx resolves it
        // against the prefix, which surprises more than it helps).
        let configPath = Paths.absolute(options.configPath ?? "conf/config.yaml",
                                        relativeTo: options.configPath == nil ? prefix : cwd)
        switch options.action {
        case .help:
            Console.write(1, "sluice version \(sluiceVersion)\n" + CommandLineOptions.usage)
            return 0
        case .version:
            Console.writeLine(1, "sluice version \(sluiceVersion)")
            return 0
        case .testConfig:
            return ConfigCheck.test(prefix: prefix, configPath: configPath) ? 0 : 1
        case .signal(let verb):
            // Without `-c`, the config file of the master that owns the prefix (it may have been
            // started with its own `-c`), as that is the file it will re-read.
            let masterConfig = options.configPath == nil ? PrefixLock.recordedConfigPath(prefix: prefix) : nil
            return SignalCommand.send(verb, prefix: prefix, configPath: masterConfig ?? configPath)
        case .run:
            MasterProcess.start(prefix: prefix, configPath: configPath)
        }
    }
}

/// `sluice -t` and the check before `sluice -s reload`.
enum ConfigCheck {
    /// Loads config.yaml and, for the `yaml` provider, conf/apisix.yaml; prints nginx's verdict
    /// lines on stderr. Invalid items of apisix.yaml fail the test: at run time they would be
    /// skipped, which is what a test is there to reveal.
    static func test(prefix: String, configPath: String) -> Bool {
        guard let config = loadConfig(configPath) else {
            Console.say("configuration file \(configPath) test failed")
            return false
        }
        Console.say("the configuration file \(configPath) syntax is ok")
        if config.configProvider == .yaml {
            let standalone = prefix + "/conf/apisix.yaml"
            do {
                let (_, errors) = try StandaloneConfig.load(path: standalone, plugins: PluginCatalog.lookup(config))
                for error in errors { Console.log(.error, error) }
                if !errors.isEmpty {
                    Console.say("configuration file \(standalone) test failed")
                    return false
                }
                Console.say("the configuration file \(standalone) syntax is ok")
            } catch {
                Console.log(.emerg, "failed to load \(standalone): \(error.message)")
                Console.say("configuration file \(standalone) test failed")
                return false
            }
        }
        Console.say("configuration file \(configPath) test is successful")
        return true
    }

    /// config.yaml, its warnings printed; nil (the reason printed) when invalid.
    static func loadConfig(_ configPath: String) -> GatewayConfig? {
        do {
            let (config, warnings) = try GatewayConfig.load(path: configPath)
            for warning in warnings + PluginCatalog.warnings(config) { Console.log(.warn, warning) }
            return config
        } catch {
            Console.log(.emerg, error.message)
            return nil
        }
    }
}

/// `sluice -s reload|quit|stop|reopen`: nginx's `ngx_signal_process`.
enum SignalCommand {
    static func send(_ verb: CommandLineOptions.SignalVerb, prefix: String, configPath: String) -> Int32 {
        // A reload with a broken config would only be refused by the master, in its log, out of
        // sight: refuse it here, where the operator is looking.
        if verb == .reload {
            guard let config = ConfigCheck.loadConfig(configPath) else {
                Console.say("configuration file \(configPath) test failed, not reloading")
                return 1
            }
            if config.configProvider == .yaml {
                let standalone = prefix + "/conf/apisix.yaml"
                do {
                    _ = try StandaloneConfig.load(path: standalone, plugins: PluginCatalog.lookup(config))
                } catch {
                    Console.log(.emerg, "failed to load \(standalone): \(error.message)")
                    Console.say("configuration file \(standalone) test failed, not reloading")
                    return 1
                }
            }
        }
        let pidPath = PidFile.path(prefix: prefix)
        guard let text = Paths.readSmallFile(pidPath) else {
            let errorNumber = errno
            Console.log(.error, "open() \"\(pidPath)\" failed \(errnoText(errorNumber))"
                + (errorNumber == ENOENT ? ", is sluice running with prefix \"\(prefix)\"?" : ""))
            return 1
        }
        let trimmed = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
        guard let target = pid_t(trimmed), target > 0 else {
            Console.log(.error, "invalid PID number \"\(trimmed)\" in \"\(pidPath)\"")
            return 1
        }
        // A pid file left by a crash may name a pid reused by an unrelated process: signal only
        // a sluice master.
        let commPath = "/proc/\(target)/comm"
        if let comm = Paths.readSmallFile(commPath) {
            if comm.split(separator: "\n").first != "sluice: master" {
                Console.log(.error, "process \(target) from \"\(pidPath)\" is not a sluice master "
                    + "(stale pid file?), no signal sent")
                return 1
            }
        }
        if kill(target, verb.signalNumber) != 0 {
            let errorNumber = errno
            Console.log(.alert, "kill(\(target), \(verb.signalNumber)) failed \(errnoText(errorNumber))"
                + (errorNumber == ESRCH ? ", stale pid file \"\(pidPath)\"" : ""))
            return 1
        }
        return 0
    }
}
