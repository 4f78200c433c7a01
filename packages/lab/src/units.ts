// Sizes and rates in scenarios and reports: the same units every dopt command reads and prints.
export { formatBytes, parseRate, parseSize } from '@dopt/interface'
