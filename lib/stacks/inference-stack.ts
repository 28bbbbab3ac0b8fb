import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { InferenceApi, type InferenceApiProps } from '../constructs/inference-api';

export interface InferenceStackProps extends StackProps {
  /** The registry bucket from the storage stack. */
  readonly modelBucket: s3.IBucket;
  /** Everything else the API takes (default model, TTL, limits, SageMaker endpoints). */
  readonly api?: Omit<InferenceApiProps, 'modelBucket'>;
}

/** The inference API: stateless, so it can be replaced or rolled back by redeploying. */
export class InferenceStack extends Stack {
  readonly inference: InferenceApi;

  constructor(scope: Construct, id: string, props: InferenceStackProps) {
    super(scope, id, props);
    this.inference = new InferenceApi(this, 'Inference', { ...props.api, modelBucket: props.modelBucket });
    new CfnOutput(this, 'ApiUrl', { value: this.inference.url, description: 'Base URL of the inference API' });
  }
}
