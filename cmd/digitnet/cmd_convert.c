/*
 * cmd_convert.c — `digitnet convert SRC DST`: copies a data set between an
 * image folder (subfolders 0..9), IDX files (raw or gzipped) and a Kaggle
 * CSV, in any direction. Formats come from the paths or --from/--to; image
 * folders are read as-is (28x28, white ink on black) or through the MNIST
 * normalisation with --normalize. Output is written atomically.
 */
#include "cli.h"
#include "datasets.h"

#include <getopt.h>
#include <string.h>

static const char *usage_text =
    "usage: digitnet convert SRC DST [options]\n"
    "\n"
    "Converts a data set between formats; each is inferred from its path:\n"
    "  folder  a directory with subfolders 0..9 of images, one per label (PNG,\n"
    "          JPEG, PGM, PPM); a directory without them holds unlabeled images.\n"
    "          Written as PNG files DST/LABEL/00001.png, ...; DST must be new.\n"
    "  idx     an images file *images-idx3-ubyte[.gz] whose labels file sits\n"
    "          alongside (*labels-idx1-ubyte[.gz]), or a directory of MNIST-named\n"
    "          files together with --split\n"
    "  csv     a Kaggle CSV: label,pixel0..pixel783 (or pixels only, unlabeled)\n"
    "\n"
    "      --from FMT     format of SRC: folder, idx or csv\n"
    "      --to FMT       format of DST: folder, idx or csv\n"
    "      --split S      train or test, for a directory of IDX files\n"
    "      --gzip         gzip IDX output (also implied by a .gz name)\n"
    "      --normalize    read folder images of any size through the MNIST\n"
    "                     normalisation; without it they must be 28x28, white\n"
    "                     ink on black\n"
    "      --invert       invert folder images as they are read\n"
    "  -n, --count N      convert only the first N images\n"
    "  -q, --quiet        no summary line\n"
    "  -h, --help         this help\n"
    "\n"
    "Examples:\n"
    "  digitnet convert data/mnist --split test digits/      IDX -> image folder\n"
    "  digitnet convert digits/ mine-images-idx3-ubyte.gz    folder -> IDX (gzip)\n"
    "  digitnet convert train.csv train-images-idx3-ubyte    CSV -> IDX\n"
    "  digitnet convert photos/ clean/ --normalize           folder -> folder\n";

typedef struct conv_args {
    const char *src, *dst;
    ds_format from, to;
    ds_opts o;
    long count;
    int quiet;
} conv_args;

static int parse_format(const char *opt, const char *s, ds_format *out) {
    *out = ds_format_parse(s);
    if (*out == DS_AUTO) {
        cli_usage_error("convert", "%s: '%s' is not folder, idx or csv", opt, s);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, conv_args *a) {
    static const struct option opts[] = {
        {"from", required_argument, 0, 'F'},  {"to", required_argument, 0, 'T'},
        {"split", required_argument, 0, 's'}, {"gzip", no_argument, 0, 'z'},
        {"normalize", no_argument, 0, 'N'},   {"invert", no_argument, 0, 'I'},
        {"count", required_argument, 0, 'n'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int opt;
    int first = 1;
    while ((opt = cli_getopt("convert", argc, argv, "n:qh", opts, &first)) != -1) {
        switch (opt) {
        case 'F':
            if (parse_format("--from", optarg, &a->from)) return EXIT_USAGE;
            break;
        case 'T':
            if (parse_format("--to", optarg, &a->to)) return EXIT_USAGE;
            break;
        case 's':
            if (strcmp(optarg, "train") && strcmp(optarg, "test"))
                return cli_usage_error("convert", "--split: expected train or test");
            a->o.split = optarg;
            break;
        case 'z':
            a->o.gzip = 1;
            break;
        case 'N':
            a->o.normalize = 1;
            break;
        case 'I':
            a->o.invert = 1;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'n':
            if (cli_parse_long("convert", "--count", optarg, 1, 100000000, &a->count))
                return EXIT_USAGE;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            return EXIT_USAGE; /* cli_getopt said why */
        }
    }
    if (argc - optind < 2) return cli_usage_error("convert", "expected SRC and DST");
    if (argc - optind > 2)
        return cli_usage_error("convert", "unexpected argument '%s'", argv[optind + 2]);
    a->src = argv[optind];
    a->dst = argv[optind + 1];
    return EXIT_OK;
}

/* Fills in the formats; a usage error when one cannot be told. */
static int resolve_formats(conv_args *a) {
    if (a->from == DS_AUTO) a->from = ds_guess_source(a->src);
    if (a->from == DS_AUTO)
        return cli_usage_error("convert", "cannot tell the format of '%s'; use --from", a->src);
    /* --split names the source directory's files unless SRC is a file */
    const char *dsplit = a->from == DS_IDX && ds_is_dir(a->src) ? NULL : a->o.split;
    if (a->to == DS_AUTO) a->to = ds_guess_dest(a->dst, dsplit);
    if (a->to == DS_AUTO)
        return cli_usage_error("convert", "cannot tell the format of '%s'; use --to", a->dst);
    if (a->from == DS_IDX && ds_is_dir(a->src) && !a->o.split)
        return cli_usage_error("convert", "'%s' is a directory of IDX files: add --split", a->src);
    if (a->to == DS_IDX && ds_is_dir(a->dst) && !a->o.split)
        return cli_usage_error("convert", "'%s' is a directory: add --split to write IDX", a->dst);
    if ((a->o.normalize || a->o.invert) && a->from != DS_FOLDER)
        return cli_usage_error("convert", "--normalize and --invert apply to image folders only");
    return EXIT_OK;
}

int cmd_convert(int argc, char **argv) {
    conv_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) return EXIT_OK;
    if (rc || (rc = resolve_formats(&a))) return rc;
    if (cli_output_not_input("convert", a.dst, &a.src, 1)) return EXIT_USAGE;
    dn_dataset ds = {0};
    dn_error err = {{0}};
    if (ds_load(a.src, a.from, &a.o, &ds, &err) != DN_OK)
        return cli_error("convert", "%s", err.msg);
    if (a.count > 0 && (size_t)a.count < ds.count) ds.count = (size_t)a.count;
    dn_status st = ds_save(&ds, a.dst, a.to, &a.o, &err);
    if (st == DN_OK && !a.quiet)
        printf("converted %zu %s %dx%d images: %s (%s) -> %s (%s)\n", ds.count,
               ds.labels ? "labeled" : "unlabeled", ds.cols, ds.rows, a.src, ds_format_name(a.from),
               a.dst, ds_format_name(a.to));
    dn_dataset_free(&ds);
    if (st != DN_OK) return cli_error("convert", "%s", err.msg);
    return EXIT_OK;
}
