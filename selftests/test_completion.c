// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * completion/memslot.bash: sourced into a bash without startup files, its
 * completion function completes commands, options, QEMU device types and
 * file names for the words it is given in COMP_WORDS. Run from the
 * repository root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

/*
 * Complete the last of @words (shell words, the last one the word under the
 * cursor) in directory @dir. Return: the candidates, one a line ("" for
 * none), or NULL if bash failed.
 */
static char *complete(const char *dir, const char *words)
{
	char *cmd, *buf = NULL, root[512];
	size_t len = 0;
	FILE *p, *mem;
	int c, rc;

	if (!getcwd(root, sizeof(root)))
		return NULL;
	if (asprintf(&cmd, "bash --norc --noprofile -c '"
		     "source \"$0\" && cd \"$1\" && shift && COMP_WORDS=(\"$@\") && "
		     "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _memslot && "
		     "printf \"%%s\\n\" \"${COMPREPLY[@]}\"' %s/completion/memslot.bash %s %s",
		     root, dir, words) < 0)
		return NULL;
	p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return NULL;
	mem = open_memstream(&buf, &len);
	fputc('\n', mem);
	while ((c = fgetc(p)) != EOF)
		fputc(c, mem);
	fclose(mem);
	rc = pclose(p);
	if (rc) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Is @word one of the lines of @reply (which starts with a newline)? */
static bool offers(const char *reply, const char *word)
{
	char want[128];

	snprintf(want, sizeof(want), "\n%s\n", word);
	return reply && strstr(reply, want);
}

TEST(commands_and_options)
{
	char *r;

	r = complete(".", "memslot pl");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("\nplan\n", r);
	free(r);

	r = complete(".", "memslot -j plan -dev");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("\n-device\n", r);
	free(r);

	r = complete(".", "memslot plan -device \"\"");
	EXPECT_TRUE(offers(r, "pc-dimm")) TH_LOG("%s", r);
	EXPECT_TRUE(offers(r, "virtio-mem-pci")) TH_LOG("%s", r);
	free(r);

	r = complete(".", "memslot run -M \"\"");
	EXPECT_TRUE(offers(r, "q35")) TH_LOG("%s", r);
	free(r);

	/* after census, -p is --pid; --pretty stays a global option */
	r = complete(".", "memslot census -");
	EXPECT_TRUE(offers(r, "--pid")) TH_LOG("%s", r);
	EXPECT_TRUE(offers(r, "-p")) TH_LOG("%s", r);
	EXPECT_TRUE(offers(r, "--pretty")) TH_LOG("%s", r);
	free(r);

	/* pids only, whatever runs here */
	r = complete(".", "memslot census -p \"\"");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(strlen(r), strspn(r, "0123456789\n")) TH_LOG("%s", r);
	free(r);
}

/*
 * Without KVM VM fds (none on the test host or in a fresh guest), the
 * processes named qemu-system-* are offered: a child renamed so is.
 */
TEST(qemu_pids)
{
	char want[32], *r;
	int pipefd[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char c;

		close(pipefd[1]);
		prctl(PR_SET_NAME, "qemu-system-tst", 0, 0, 0);
		/* until the parent closes its end */
		_exit(read(pipefd[0], &c, 1) < 0);
	}
	close(pipefd[0]);
	/* the rename is done once /proc shows it */
	for (int i = 0; i < 1000; i++) {
		char path[64], name[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "r");
		if (f && fgets(name, sizeof(name), f) && !strcmp(name, "qemu-system-tst\n")) {
			fclose(f);
			break;
		}
		if (f)
			fclose(f);
		usleep(1000);
	}
	r = complete(".", "memslot plan --from-pid \"\"");
	close(pipefd[1]);
	waitpid(pid, NULL, 0);
	ASSERT_NE(NULL, r);
	snprintf(want, sizeof(want), "%d", pid);
	if (!offers(r, want) && !access("/dev/kvm", F_OK)) {
		free(r);
		SKIP(return, "processes hold KVM VMs here: their pids are offered instead");
	}
	EXPECT_TRUE(offers(r, want)) TH_LOG("%s", r);
	free(r);
}

TEST(file_names)
{
	char tmp[] = "/tmp/memslot-completion.XXXXXX", path[64], *r;
	FILE *f;

	ASSERT_NE(NULL, mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/tree.txt", tmp);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fclose(f);

	r = complete(tmp, "memslot mtree --import \"\"");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("\ntree.txt\n", r);
	free(r);

	/* --import=FILE reaches the function as "--import" "=" "FILE" */
	r = complete(tmp, "memslot mtree --import = t");
	ASSERT_NE(NULL, r);
	EXPECT_STREQ("\ntree.txt\n", r);
	free(r);

	unlink(path);
	rmdir(tmp);
}

TEST_HARNESS_MAIN
