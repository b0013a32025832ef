/* fuzz_replay.c — runs the fuzz target over every file of a corpus folder,
 * so that `meson test` replays past finds without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 1;
	}
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", argv[1], e->d_name);
		FILE *f = fopen(p, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fseek(f, 0, SEEK_SET);
		uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
		size_t got = fread(b, 1, (size_t)(len > 0 ? len : 0), f);
		fclose(f);
		LLVMFuzzerTestOneInput(b, got);
		free(b);
		n++;
	}
	closedir(d);
	printf("replayed %d corpus files\n", n);
	return n ? 0 : 1;
}
