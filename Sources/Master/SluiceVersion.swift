/// The release this binary is, printed by `sluice -v`.
///
/// Defined in Master because only the executable reports it; when `Server: sluice/<ver>` needs it
/// (Shared's `enableServerTokens`), this moves to Shared.
package enum SluiceVersion {
    /// Semantic version, `major.minor.patch`.
    package static let string = "0.1.0"
}
