import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { InferenceApi, type InferenceApiProps } from '../constructs/inference-api';

export interface InferenceStackProps extends StackProps {
  /** The registry bucket from the storage stack. */
  readonly modelBucket: s3.IBucket;
  /**
   * The data bucket from the storage stack: captured requests and feedback labels.
   * @default - no capture and no feedback
   */
  readonly dataBucket?: s3.IBucket;
  /** Everything else the API takes (default model, TTL, limits, SageMaker endpoints, capture per model). */
  readonly api?: Omit<InferenceApiProps, 'modelBucket' | 'dataBucket'>;
}

/**
 * The inference API and its capture path (log subscription -> Firehose): stateless, so it can be
 * replaced or rolled back by redeploying (what was captured is in the storage stack's data bucket).
 */
export class InferenceStack extends Stack {
  readonly inference: InferenceApi;

  constructor(scope: Construct, id: string, props: InferenceStackProps) {
    super(scope, id, props);
    this.inference = new InferenceApi(this, 'Inference', {
      ...props.api,
      modelBucket: props.modelBucket,
      dataBucket: props.dataBucket,
    });
    new CfnOutput(this, 'ApiUrl', { value: this.inference.url, description: 'Base URL of the inference API' });
  }
}
