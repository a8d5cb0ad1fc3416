/*
 * install-client.c - built by install.sh against the INSTALLED liboctostore only
 * (pkg-config --cflags --libs liboctostore): connects to the daemon on argv[1], says
 * hello, pings with a payload and checks the echo.  Exits 0 when all of it works.
 */
#include <stdio.h>
#include <string.h>

#include <octostore.h>

int
main(int argc, char **argv)
{
	struct octo_client	*c;
	struct octo_hello	 h;
	const char		 payload[] = "installed";
	char			 echo[64];
	size_t			 echolen = 0;
	int			 r;

	if (argc != 2) {
		fprintf(stderr, "usage: install-client SOCKET\n");
		return (64);
	}
	if ((r = octo_connect(argv[1], 5000, &c)) != OCTO_OK) {
		fprintf(stderr, "octo_connect: %s\n", octo_strerror(r));
		return (69);
	}
	if ((r = octo_hello(c, "install-client", &h)) != OCTO_OK) {
		fprintf(stderr, "octo_hello: %s\n", octo_strerror(r));
		goto out;
	}
	printf("hello: protocol %d, daemon %s\n", h.protocol, h.version);
	if ((r = octo_ping(c, payload, sizeof payload, echo, sizeof echo,
	    &echolen)) != OCTO_OK) {
		fprintf(stderr, "octo_ping: %s\n", octo_strerror(r));
		goto out;
	}
	if (echolen != sizeof payload || memcmp(echo, payload, echolen) != 0) {
		fprintf(stderr, "octo_ping: echo differs (%zu bytes)\n", echolen);
		r = 1;
		goto out;
	}
	printf("ping ok: %zu bytes echoed\n", echolen);
out:
	octo_close(c);
	return (r == OCTO_OK ? 0 : 1);
}
