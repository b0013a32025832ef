/* cli.h — how a `flowdelta` subcommand registers itself.
 *
 * Each cmd_*.c file defines one struct cli_cmd and registers it with
 * CLI_REGISTER(); main.c knows no subcommand by name. Commands parse their own
 * flags (getopt_long), print a one-line error to stderr and return non-zero
 * on bad input, and print their usage for --help.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

struct cli_cmd {
	const char *name;    /* "decode" */
	const char *summary; /* one line for `flowdelta --help` */
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
	struct cli_cmd *next;
};

void cli_register(struct cli_cmd *cmd);

#define CLI_REGISTER(cmd)                                                          \
	__attribute__((constructor)) static void cli_register_##cmd(void)          \
	{                                                                          \
		cli_register(&cmd);                                                \
	}

/* "flowdelta: decode: <msg>" to stderr; returns 2 (bad usage) for convenience. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
