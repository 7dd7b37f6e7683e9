/*
 * The least work an offline merge of a dm-snapshot persistent store needs:
 * walk the exception table as the kernel does (dm-snap-persistent.c), and
 * for each exception pread its chunk from the store and pwrite it to the
 * origin, in table order; one fsync of the origin at the end.
 * Usage: merge-loop ORIGIN STORE
 */
#define _FILE_OFFSET_BITS 64
#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what) {
	perror(what);
	exit(1);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s ORIGIN STORE\n", argv[0]);
		return 2;
	}
	int origin = open(argv[1], O_RDWR);
	int store = open(argv[2], O_RDONLY);
	if (origin < 0 || store < 0) die("open");
	uint32_t header[4];
	if (pread(store, header, sizeof header, 0) != sizeof header) die("pread header");
	if (le32toh(header[0]) != 0x70416e53 || le32toh(header[2]) != 1) {
		fprintf(stderr, "not a persistent exception store\n");
		return 1;
	}
	size_t chunk = (size_t)le32toh(header[3]) * 512;
	size_t epa = chunk / 16;
	uint64_t *area = malloc(chunk);
	char *data = malloc(chunk);
	if (!area || !data) die("malloc");
	long merged = 0;
	for (uint64_t a = 0;; a++) {
		off_t at = (off_t)(1 + (epa + 1) * a) * chunk;
		if (pread(store, area, chunk, at) != (ssize_t)chunk) die("pread area");
		size_t i;
		for (i = 0; i < epa; i++) {
			uint64_t old_chunk = le64toh(area[2 * i]);
			uint64_t new_chunk = le64toh(area[2 * i + 1]);
			if (new_chunk == 0) break;
			if (pread(store, data, chunk, (off_t)(new_chunk * chunk)) != (ssize_t)chunk) die("pread chunk");
			if (pwrite(origin, data, chunk, (off_t)(old_chunk * chunk)) != (ssize_t)chunk) die("pwrite");
			merged++;
		}
		if (i < epa) break;
	}
	if (fsync(origin) != 0) die("fsync");
	printf("%ld\n", merged);
	return 0;
}
