// The terminal progress view: pure rendering (renderView, progressEvents) and the live outputs built on it.
export { renderView, renderStages, stageEta, type RenderOptions, type ViewStage } from './render';
export { progressEvents, formatEventLine, type ViewEvent, type StartInfo, type EndInfo } from './events';
export { chooseViewMode, VIEW_MODES, type ViewMode } from './output';
export { createLineageView, type LineageView, type LineageViewOptions } from './lineage-view';
export { createProgressReporter, type ProgressReporter, type ProgressReporterOptions, type ProgressUpdate } from './reporter';
export { formatDuration, formatNumber, stripAnsi } from './format';
