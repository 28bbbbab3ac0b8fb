/** The endpoints file `npm start` writes: the contract lives in core/ (the registry CLI reads it too). */
export {
  ENDPOINTS_FILE,
  endpointsSchema,
  localDataDir,
  type PlatformEndpoints,
  readEndpoints,
  writeEndpoints,
} from '../core/platform-endpoints';
