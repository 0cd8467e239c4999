#if canImport(Glibc)
import Glibc
#endif

exit(SluiceCommand.main(CommandLine.arguments))
