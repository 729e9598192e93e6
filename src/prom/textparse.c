/* textparse: placeholder until the Prometheus text-format parser is written (issue 5). */
