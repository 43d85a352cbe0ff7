"""Jobs: the pipeline that makes a clip, and (daemon) the store, scheduler and worker."""
