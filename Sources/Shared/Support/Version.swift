/// Sluice's version, defined once: `sluice -v`, `Server: sluice/<version>`.
package let sluiceVersion = "0.1.0"
