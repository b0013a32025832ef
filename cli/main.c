/* main.c — `flowdelta` entry point: subcommand dispatch.
 *
 * Subcommands register themselves (cli.h) from constructors, so this file
 * never names one. The list is kept sorted by name for --help.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef FLOWDELTA_VERSION
#define FLOWDELTA_VERSION "unknown"
#endif

static struct cli_cmd *cmds;

void cli_register(struct cli_cmd *cmd)
{
	struct cli_cmd **pp = &cmds;

	while (*pp && strcmp((*pp)->name, cmd->name) < 0)
		pp = &(*pp)->next;
	cmd->next = *pp;
	*pp = cmd;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "flowdelta: %s%s", cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static struct cli_cmd *find(const char *name)
{
	for (struct cli_cmd *c = cmds; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: flowdelta [--help | --version] COMMAND [ARGS...]\n"
		   "       flowdelta help COMMAND\n\ncommands:\n");
	for (struct cli_cmd *c = cmds; c; c = c->next)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'flowdelta COMMAND --help' for the options of a command.\n");
}

/* Run one command; a failed flush of stdout (full disk, closed pipe) turns
 * success into a runtime error so scripts never get truncated output silently. */
static int run(struct cli_cmd *c, int argc, char **argv)
{
	int rc = c->run(argc, argv);

	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "flowdelta: %s: write error on stdout\n", c->name);
		rc = 1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct cli_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("flowdelta %s\n", FLOWDELTA_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		char *hargv[] = { NULL, "--help", NULL };
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		c = find(argv[2]);
		if (!c)
			return cli_usage_error(NULL, "unknown command '%s' (see flowdelta --help)",
					       argv[2]);
		hargv[0] = argv[2];
		return run(c, 2, hargv);
	}
	if (argv[1][0] == '-')
		return cli_usage_error(NULL, "unknown option '%s' (see flowdelta --help)", argv[1]);
	c = find(argv[1]);
	if (!c)
		return cli_usage_error(NULL, "unknown command '%s' (see flowdelta --help)", argv[1]);
	return run(c, argc - 1, argv + 1);
}
