/* promql: placeholder until the PromQL engine is written (issue 5). */
