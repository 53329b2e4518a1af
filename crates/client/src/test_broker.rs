//! For tests: the command-line parsing the binary uses (brokers come from `sluice-testkit`).

use clap::Parser;

/// Parses a command line of one client command (without the command name) into its argument
/// struct, as the binary would.
pub fn parse<T: clap::Args + clap::FromArgMatches>(args: &[&str]) -> T {
    #[derive(Parser)]
    struct Wrapper<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    Wrapper::<T>::try_parse_from(std::iter::once("sluice").chain(args.iter().copied()))
        .map(|w| w.inner)
        .unwrap_or_else(|e| panic!("bad test arguments {args:?}: {e}"))
}
